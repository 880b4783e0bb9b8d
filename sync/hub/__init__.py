"""The reference city hub: `motcua hub serve` and its admin commands."""

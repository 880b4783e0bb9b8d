"""The clerk web app and JSON API."""

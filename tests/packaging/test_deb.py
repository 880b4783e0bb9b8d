"""scripts/build-deb and scripts/publish-apt for real: the package built twice (two versions),
inspected with dpkg-deb, installed into a scratch root with dpkg (maintainer scripts run on that
tree through DPKG_ROOT), upgraded and rolled back by the updater with a real store in the tree;
then published with reprepro and its Release verified with gpgv.

The scratch root holds no Debian base system, so dependencies are not checked there
(--force-depends); everything else is dpkg's own work.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
V1, V2 = "0.1.0", "0.1.1~test1"
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="dpkg into a scratch root and chown need root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("dpkg-deb", "dpkg", "reprepro", "gpg", "gpgv",
                                                          "systemd-sysusers")),
                       reason="dpkg-dev, reprepro, gnupg or systemd tools missing"),
]


def sh(*argv, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    for version in (V1, V2):
        sh("bash", ROOT / "scripts" / "build-deb", "--fast", "--version", version, "--out", out)
    return out


def arch() -> str:
    return sh("dpkg", "--print-architecture").stdout.strip()


def deb(pool: Path, version: str) -> Path:
    return pool / f"motcua_{version}_{arch()}.deb"


def test_the_package_holds_the_app_units_and_rules(pool: Path):
    info = sh("dpkg-deb", "--info", deb(pool, V2)).stdout
    assert f"Version: {V2}" in info and "Package: motcua" in info and "Depends: python3 (>= 3.11)" in info
    assert "postinst" in info and "prerm" in info
    contents = sh("dpkg-deb", "--contents", deb(pool, V2)).stdout
    for path in ("./opt/motcua/venv/bin/motcua", "./opt/motcua/venv/pyvenv.cfg",
                 "./opt/motcua/venv/lib/python3.11/site-packages/edge/updater/_updater.py",
                 "./opt/motcua/venv/lib/python3.11/site-packages/aiohttp/",
                 "./lib/systemd/system/motcua-edge.service", "./lib/systemd/system/motcua-update.service",
                 "./lib/systemd/system/motcua-update.timer", "./usr/lib/sysusers.d/motcua.conf",
                 "./usr/lib/tmpfiles.d/motcua.conf", "./lib/udev/rules.d/70-motcua.rules",
                 "./usr/share/polkit-1/rules.d/50-motcua-pcscd.rules", "./usr/share/doc/motcua/requirements.lock",
                 "./usr/share/doc/motcua/copyright", "./usr/share/doc/motcua/changelog.gz", "./opt/motcua/share/doc/deploy.md"):
        assert path in contents, path
    assert "root/root" in contents and "/tmp/" not in contents
    # Nothing of the build machine inside: no build path in the venv, no byte code, no tests.
    ext = Path(sh("mktemp", "-d").stdout.strip())
    try:
        sh("dpkg-deb", "-x", deb(pool, V2), ext)
        venv = ext / "opt/motcua/venv"
        assert (venv / "bin/python3").readlink() == Path("/usr/bin/python3")
        assert str(ROOT) not in (venv / "pyvenv.cfg").read_text()
        assert not list(venv.rglob("__pycache__"))
        assert not (venv / "lib/python3.11/site-packages/tests").exists()
        lock = (ext / "usr/share/doc/motcua/requirements.lock").read_text()
        assert "aiohttp==" in lock and "cryptography==" in lock
    finally:
        shutil.rmtree(ext)


class Health:
    """The HealthCheck interface: the release under test (V2) does not come back healthy."""

    def problems(self, *, since: str) -> list[str]:
        return ["motcua-edge.service did not send READY"] if self.installer.installed_version() == V2 else []


class Box:
    def __init__(self) -> None:
        from edge.updater import PendingUpdate

        self.pending = PendingUpdate(command_id="c" * 32, rollout_id=None, version=V2, wave=None)
        self.result = None
        self.reports = []

    def pending_update(self):
        return None if self.result else self.pending

    def intake_busy(self):
        return None

    def schema_min_version(self):
        return None

    def record(self, result):
        self.result = result

    def last_result(self):
        return self.result

    def report(self, result):
        self.reports.append(result)


def _packaged(root: Path, *args: str) -> subprocess.CompletedProcess:
    venv = root / "opt/motcua/venv"
    return subprocess.run([str(venv / "bin/python3"), str(venv / "bin/motcua"), *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_install_upgrade_and_rollback_in_a_scratch_root(pool: Path, tmp_path: Path):
    sys.path.insert(0, str(ROOT / "tests" / "sync" / "client"))
    from boxkit import add_dossier, box_settings

    from edge.store import Store
    from edge.updater import AptInstaller, DpkgInstaller, Updater

    root = tmp_path / "root"
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"):
        (root / d).mkdir(parents=True)
    for f in ("status", "available"):
        (root / "var/lib/dpkg" / f).touch()
    installer = DpkgInstaller(pool, root=root, options=("--force-script-chrootless", "--force-depends"))
    assert installer.installed_version() is None

    installer.install(V1)
    assert installer.installed_version() == V1
    assert "motcua:" in (root / "etc/passwd").read_text()
    assert (root / "var/lib/motcua").stat().st_mode & 0o777 == 0o700
    for link in ("multi-user.target.wants/motcua-edge.service", "timers.target.wants/motcua-update.timer"):
        assert (root / "etc/systemd/system" / link).is_symlink(), link
    assert _packaged(root, "--help").returncode == 0

    # A box's store in the tree, with a dossier, opened by the packaged app too.
    settings = box_settings(root / "var/lib/motcua")
    Store.init(settings, agency_code="000.00.06.H56", city_public_key=None, demo_key_out=tmp_path / "city.json")
    with Store.open(settings) as store:
        dossier = add_dossier(store, pages=2, page_bytes=50_000)
        before = [p.blob for p in store.pages(dossier)]
    assert _packaged(root, "--state-dir", str(root / "var/lib/motcua"), "check").returncode == 0

    # The updater: V2 installs (postinst migrates the store), is unhealthy, V1 comes back from the
    # .deb the updater kept before installing (apt left it in its cache when it installed V1); V2
    # was fetched already (in the box's pool), so no apt and no network here.
    cache, kept = tmp_path / "apt-archives", tmp_path / "updater-pool"
    cache.mkdir()
    kept.mkdir()
    shutil.copy(deb(pool, V1), cache)
    shutil.copy(deb(pool, V2), kept)
    apt = AptInstaller(kept, apt_cache=cache, root=root, options=("--force-script-chrootless", "--force-depends"))
    health = Health()
    health.installer = apt
    box = Box()
    result = Updater(box=box, installer=apt, health=health).run()
    assert result.outcome == "rolled_back", result.message
    assert installer.installed_version() == V1
    assert sorted(p.name for p in kept.iterdir()) == [deb(pool, V1).name, deb(pool, V2).name]
    assert box.reports[0]["running_version"] == V1
    status = (root / "var/lib/dpkg/status").read_text()
    assert f"Version: {V1}" in status and f"Version: {V2}" not in status
    checked = _packaged(root, "--state-dir", str(root / "var/lib/motcua"), "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with Store.open(settings) as store:
        assert [p.blob for p in store.pages(dossier)] == before

    # A plain upgrade keeps the store and the users; the postinst ran the migrations.
    upgrade = subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends", "-i",
                              str(deb(pool, V2))], capture_output=True, text=True, timeout=300)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "store migrated" in upgrade.stdout
    assert installer.installed_version() == V2
    assert [line.split(":")[0] for line in (root / "etc/passwd").read_text().splitlines()] == ["motcua", "motcua-hub"]


@pytest.fixture
def gnupg(tmp_path: Path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    sh("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Tram Mot Cua test archive <it@motcua.invalid>",
       "ed25519", "sign", "1d", env=env)
    fpr = next(line.split(":")[9] for line in sh("gpg", "--batch", "--with-colons", "--list-secret-keys",
                                                 env=env).stdout.splitlines() if line.startswith("fpr:"))
    yield home, fpr, env
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)


def test_the_apt_repository_is_signed_and_keeps_the_previous_version(pool: Path, tmp_path: Path, gnupg):
    home, fpr, env = gnupg
    repo = tmp_path / "apt"
    sh("bash", ROOT / "scripts" / "publish-apt", "--repo", repo, "--key", fpr, "--gnupghome", home,
       deb(pool, V1), deb(pool, V2), env=env)
    keyring = repo / "motcua-archive-keyring.gpg"
    dists = repo / "dists" / "bookworm"
    sh("gpgv", "--keyring", keyring, dists / "InRelease")
    sh("gpgv", "--keyring", keyring, dists / "Release.gpg", dists / "Release")
    packages = (dists / "main" / f"binary-{arch()}" / "Packages").read_text()
    assert f"Version: {V2}" in packages and f"Version: {V1}" not in packages  # the newest is listed
    assert (repo / "pool/main/m/motcua" / deb(pool, V1).name).is_file()  # the older file is kept
    release = (dists / "Release").read_text()
    import hashlib

    digest = hashlib.sha256((dists / "main" / f"binary-{arch()}" / "Packages").read_bytes()).hexdigest()
    assert f"{digest}" in release
    for rel in packages.split("Filename: ")[1:]:
        assert (repo / rel.splitlines()[0]).is_file()
    # A Release changed after signing does not verify; neither does one signed by another key.
    tampered = tmp_path / "Release"
    tampered.write_text(release.replace("bookworm", "bookwarm", 1))
    bad = subprocess.run(["gpgv", "--keyring", str(keyring), str(dists / "Release.gpg"), str(tampered)],
                         capture_output=True, text=True)
    assert bad.returncode != 0
    assert gzip.decompress((dists / "main" / f"binary-{arch()}" / "Packages.gz").read_bytes()).decode() == packages


#: Lintian errors that are the design of a package carrying its own virtual environment of PyPI
#: wheels in /opt (docs/deploy.md §7), not defects of the packaging: the tree in /opt, the venv's
#: interpreter path, manylinux libraries as their wheels ship them (stripping patchelf-edited
#: libraries can break them), and the fonts reportlab bundles.
BY_DESIGN = {"dir-or-file-in-opt", "wrong-path-for-interpreter", "unstripped-binary-or-object", "embedded-library",
             "license-problem-font-adobe-copyrighted-fragment", "license-problem-font-adobe-copyrighted-fragment-no-credit"}


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("lintian"), reason="lintian is not installed")
def test_lintian_finds_no_error_beyond_the_vendored_venv(pool: Path):
    done = subprocess.run(["lintian", "--tag-display-limit", "0", str(deb(pool, V2))], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode in (0, 1, 2), done.stderr
    errors = {line.split()[2] for line in done.stdout.splitlines() if line.startswith("E: motcua: ")}
    assert "dir-or-file-in-opt" in errors  # lintian did look at the package
    assert errors - BY_DESIGN == set(), done.stdout[-3000:]

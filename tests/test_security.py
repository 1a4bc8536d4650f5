"""Safe on a shared machine: TLS on every cluster the engine starts, dashboards on localhost,
objectives imported only from where the config names them.

* With TLS on (the default), a client without the run's credentials, or with credentials of
  its own, cannot talk to the scheduler or a worker; the run's minima are those of a serial
  run; ``security: none`` is the control that shows the refusal is TLS's doing.
* A site's own certificate files work for ``kind: local`` and for ``kind: address``
  (``tls://``); bad ``security`` values are refused with the key, the value and the fix.
* A real SLURM run passes with TLS on (the worker jobs get the credentials as owner-only
  files that are removed afterwards); an ``mpirun`` launch speaks TLS too.
* A module or file named like the objective, planted in the current or output folder, is
  never imported.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

import engine
from engine.cli import _cluster_line
from engine.exceptions import ClusterError, ConfigError, ProblemError
from engine.parallel.clusters import validate_cluster
from engine.parallel.jobqueue import make_jobqueue_cluster
from engine.parallel.security import dashboard_loads
from engine.problem import load_callable

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVE = f"{ROOT / 'examples' / 'objectives.py'}:himmelblau"
BOUNDS = [(-5.0, 5.0), (-5.0, 5.0)]

pytest.importorskip("cryptography", reason="security: auto needs cryptography "
                    "(a dependency of multistart-engine): pip install cryptography")


def refused(address: str, security=None) -> bool:
    """Whether a connection to ``address`` (with ``security``'s client credentials, or
    none) fails before one message is answered."""
    import asyncio

    from distributed.comm import connect

    async def talk():
        args = security.get_connection_args("client") if security is not None else {}
        comm = await connect(address, timeout=3, **args)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        answer = asyncio.run(asyncio.wait_for(talk(), 10))
    except (OSError, TypeError):  # refused, closed, timed out; TypeError: no TLS context
        return True
    assert isinstance(answer, dict) and answer.get("type") in ("Scheduler", "Worker")
    return False


def plain(address: str) -> str:
    """The same host and port, spoken to as plain TCP."""
    return "tcp://" + address.split("://", 1)[1]


@pytest.fixture(scope="module")
def tls_client():
    """A local cluster as the engine starts it by default (2 workers, TLS)."""
    client = engine.local_client(n_workers=2)
    yield client
    client.close()


def test_default_local_cluster_speaks_tls_and_refuses_strangers(tls_client):
    from distributed.security import Security

    scheduler = tls_client.scheduler.address
    workers = list(tls_client.scheduler_info()["workers"])
    assert scheduler.startswith("tls://127.0.0.1:")
    assert len(workers) == 2 and all(w.startswith("tls://127.0.0.1:") for w in workers)
    stranger = Security.temporary()  # valid TLS, but not signed by this run's CA
    for address in (scheduler, workers[0]):
        assert refused(plain(address)), f"{address} answered plain TCP"
        assert refused(address, stranger), f"{address} answered foreign credentials"
        assert not refused(address, tls_client.security), "the owner must get through"
    # A whole Client without the credentials gets nowhere either.
    from distributed import Client

    with pytest.raises(OSError):
        Client(plain(scheduler), timeout="2s")
    with pytest.raises(OSError):
        Client(scheduler, security=stranger, timeout="2s")


def test_without_tls_a_stranger_gets_through(tmp_path):
    """The control: with security: none the same checks see an open scheduler."""
    with engine.local_client(n_workers=1, security="none") as client:
        address = client.scheduler.address
        assert address.startswith("tcp://127.0.0.1:")
        assert not refused(address)


def test_results_are_those_of_a_serial_run(tls_client):
    fun = load_callable(OBJECTIVE)
    serial = engine.minimize(fun, BOUNDS, n_starts=24, seed=3, client="serial")
    on_tls = engine.minimize(fun, BOUNDS, n_starts=24, seed=3, client=tls_client)
    assert on_tls.provenance["cluster"]["scheduler"].startswith("tls://")
    assert len(on_tls.minima) == len(serial.minima) == 4
    for a, b in zip(on_tls.minima, serial.minima, strict=True):
        np.testing.assert_allclose(a.x, b.x, atol=1e-12, rtol=0)
        assert a.n_hits == b.n_hits


def test_client_none_starts_a_tls_cluster():
    fun = load_callable(OBJECTIVE)
    res = engine.minimize(fun, BOUNDS, n_starts=8, seed=1, client=None)
    assert res.provenance["cluster"]["scheduler"].startswith("tls://127.0.0.1:")
    assert len(res.minima) >= 1 and res.n_failed == 0


def test_dashboard_listens_on_localhost_only(tls_client):
    def listening(dask_scheduler):
        return [sock.getsockname()[0] for sock in dask_scheduler.http_server._sockets.values()]

    assert tls_client.dashboard_link.startswith("http://127.0.0.1:")
    assert set(tls_client.run_on_scheduler(listening)) == {"127.0.0.1"}


def site_files(folder: Path) -> dict[str, str]:
    """A self-signed certificate (its own CA) and its key, as a site would give them."""
    from distributed.security import Security

    made = Security.temporary()
    files = {"tls_ca_file": made.tls_ca_file, "tls_cert": made.tls_client_cert,
             "tls_key": made.tls_client_key}
    paths = {}
    for key, text in files.items():
        path = folder / f"{key}.pem"
        path.write_text(text)
        path.chmod(0o600)
        paths[key] = str(path)
    return paths


def test_site_certificates_for_local_and_address_kinds(tmp_path):
    files = site_files(tmp_path)
    with engine.local_client(n_workers=1, security=files) as owner:
        address = owner.scheduler.address
        assert address.startswith("tls://")
        assert refused(plain(address))
        cfg = {"problem": {"objective": OBJECTIVE, "bounds": [[-5, 5], [-5, 5]]},
               "starts": {"n_starts": 8, "seed": 2},
               "cluster": {"kind": "address", "address": address, "security": files},
               "output": {"dir": str(tmp_path / "out")}}
        path = tmp_path / "cfg.yaml"
        path.write_text(yaml.safe_dump(cfg))
        res = engine.run_config(path)
        assert res.provenance["cluster"]["scheduler"] == address and res.n_failed == 0
        # The same address without the files is refused before any connection is tried.
        del cfg["cluster"]["security"]
        cfg["output"]["dir"] = str(tmp_path / "out2")
        path.write_text(yaml.safe_dump(cfg))
        with pytest.raises(ClusterError, match="is a TLS scheduler, but no credentials"):
            engine.run_config(path)


@pytest.mark.parametrize(("cluster", "needles"), [
    ({"kind": "local", "security": "off"},
     ["cluster.security='off' is not allowed for cluster.kind='local'", "'auto'", "'none'"]),
    ({"kind": "local", "security": {"tls_ca_file": "/no/such/ca.pem", "tls_crt": "x"}},
     ["unknown key cluster.security.tls_crt", "cluster.security.tls_cert is required",
      "cluster.security.tls_ca_file='/no/such/ca.pem': no such file"]),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "walltime": "00:10:00", "security": True},
     ["cluster.security=True is not allowed for cluster.kind='slurm'"]),
    ({"kind": "address", "address": "tcp://h:8786",
      "security": {"tls_ca_file": __file__, "tls_cert": __file__}},
     ["cluster.address='tcp://h:8786' is not a TLS address", "'tls://h:8786'"]),
    ({"kind": "mpi", "protocol": "tcp"},
     ["cluster.protocol='tcp' is not allowed with TLS", "security: none"]),
])
def test_bad_security_values_name_key_value_and_fix(cluster, needles):
    errors = " | ".join(validate_cluster(cluster))
    for needle in needles:
        assert needle in errors, errors


def test_missing_cryptography_is_a_cluster_error_with_the_fix(monkeypatch):
    from distributed.security import Security

    def no_cryptography(*args, **kwargs):
        raise ImportError("No module named 'cryptography'")

    monkeypatch.setattr(Security, "temporary", classmethod(no_cryptography))
    with pytest.raises(ClusterError, match="pip install cryptography") as caught:
        engine.local_client(n_workers=1)
    assert "cluster.security='auto'" in str(caught.value)
    assert "security: none" in str(caught.value)


def test_a_private_key_others_can_read_is_refused(tmp_path):
    files = site_files(tmp_path)
    Path(files["tls_key"]).chmod(0o644)
    errors = validate_cluster({"kind": "local", "security": files})
    assert len(errors) == 1 and "can be read by other users (mode 644)" in errors[0]
    assert f"chmod 600 {files['tls_key']}" in errors[0]
    assert validate_cluster({"kind": "local", "security": "none"}) == []


def test_worker_jobs_get_owner_only_credential_files_removed_afterwards(tmp_path):
    pytest.importorskip("dask_jobqueue")
    body = {"kind": "slurm", "cores": 1, "memory": "1GB", "walltime": "00:10:00",
            "shared_temp_directory": str(tmp_path), "scheduler_options": {"host": "127.0.0.1"}}
    closers: list = []
    cluster = make_jobqueue_cluster(body, closers)
    try:
        script = cluster.job_script()
        (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("tls-")]
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
        files = sorted(folder.iterdir())
        assert len(files) == 3 and all(f.stat().st_mode & 0o077 == 0 for f in files)
        for flag in ("--tls-ca-file", "--tls-cert", "--tls-key"):
            assert f"{flag} {folder}{os.sep}" in script
        assert " tls://127.0.0.1:" in script and "--protocol tls://" in script
        # Only paths travel in the job script, never the key itself.
        assert "PRIVATE KEY" not in script
        dashboard = cluster.scheduler_spec["options"]["dashboard_address"]
        assert dashboard == "127.0.0.1:0"
    finally:
        for thing in (cluster, *closers):
            thing.close()
    assert not folder.exists()
    none = make_jobqueue_cluster({**body, "security": "none"})
    try:
        assert "--tls" not in none.job_script() and " tcp://" in none.job_script()
    finally:
        none.close()


# ------------------------------------------------------------------ the dashboard link


class _Describes:
    def __init__(self, link):
        self.link = link

    def describe(self):
        return {"kind": "dask", "n_workers": 2, "n_threads": 2, "dashboard": self.link}


def test_cli_prints_the_dashboard_link_only_when_it_loads():
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/status" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        good = _cluster_line(_Describes(f"{base}/status"), "local")
        assert good == f"multistart: Dask dashboard {base}/status (local, 2 workers, 2 threads)"
        missing = _cluster_line(_Describes(f"{base}/missing"), "slurm")
        assert "no dashboard" in missing and base not in missing
    finally:
        server.shutdown()
        server.server_close()
    assert "no dashboard" in _cluster_line(_Describes(f"{base}/status"), "local")


def test_the_default_cluster_dashboard_loads_with_bokeh(tls_client):
    pytest.importorskip("bokeh", reason="bokeh comes with the [plots] and [hpc] extras")
    assert dashboard_loads(tls_client.dashboard_link)


# ------------------------------------------------------------------ real batch and MPI runs


def assert_himmelblau(minima) -> None:
    known = [(3.0, 2.0), (-2.805118, 3.131313), (-3.779310, -3.283186), (3.584428, -1.848127)]
    xs = [np.asarray(m["x"] if isinstance(m, dict) else m.x) for m in minima]
    assert len(xs) == 4
    for point in known:
        assert min(np.max(np.abs(x - point)) for x in xs) < 1e-5


@pytest.mark.slurm
def test_slurm_run_with_tls_finds_the_minima(tmp_path):
    from test_hpc import config_file, slurm_ready

    reason = slurm_ready()
    if reason:
        pytest.skip(reason)
    creds = tmp_path / "creds"
    cluster = {"kind": "slurm", "queue": "debug", "cores": 1, "processes": 1, "memory": "1GB",
               "walltime": "00:10:00", "jobs": 1, "scheduler_options": {"host": "127.0.0.1"},
               "log_directory": str(tmp_path / "logs"), "wait_for_workers": 1,
               "shared_temp_directory": str(creds)}
    res = engine.run_config(config_file(tmp_path, cluster, n_starts=24))
    assert res.provenance["cluster"]["scheduler"].startswith("tls://127.0.0.1:")
    assert res.provenance["cluster"]["n_workers"] >= 1
    assert_himmelblau(res.minima)
    assert res.n_starts == 24 and res.n_failed == 0
    assert list(creds.iterdir()) == []  # the workers' credentials are gone
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.err"))
    assert "tls://" in logs  # the worker job really spoke TLS


@pytest.mark.mpi
@pytest.mark.slow
def test_mpirun_launch_speaks_tls(tmp_path):
    from test_hpc import MULTISTART, mpi_ready

    reason = mpi_ready()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "mpi"
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [MULTISTART] if Path(MULTISTART).exists() else [sys.executable, "-m", "engine.cli"]
    proc = subprocess.run(
        ["mpirun", "--oversubscribe", "-n", "3", *command, "run",
         str(ROOT / "configs" / "mpi.yaml"), "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["provenance"]["cluster"]["scheduler"].startswith("tls://")
    assert_himmelblau(result["minima"])


# ------------------------------------------------------------------ what a config imports


def plant(folder: Path, name: str) -> Path:
    """A module that leaves ``<name>.imported`` beside it when imported."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(
        "from pathlib import Path\n"
        f"Path(__file__).with_name({name + '.imported'!r}).touch()\n"
        "def f(x):\n    return 0.0\n")
    return folder / f"{name}.imported"


def write_config(folder: Path, objective: str, out: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump({
        "problem": {"objective": objective, "bounds": [[-1, 1]]},
        "starts": {"n_starts": 2}, "cluster": {"kind": "serial"},
        "output": {"dir": str(out)}}))
    return path


def test_file_missing_beside_the_config_is_not_taken_from_the_current_folder(
        tmp_path, monkeypatch):
    out = tmp_path / "out"
    marker = plant(out, "sec_objectives")
    monkeypatch.chdir(out)  # running from the output folder, which holds the planted file
    config = write_config(tmp_path / "configs", "sec_objectives.py:f", out)
    with pytest.raises(ConfigError, match=r"file 'sec_objectives\.py' not found"):
        engine.load_config(config)
    assert not marker.exists()


def test_module_name_is_not_taken_from_the_current_folder(tmp_path, monkeypatch):
    marker = plant(tmp_path, "sec_planted_mod")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", str(tmp_path), *sys.path])  # as python -m has it
    with pytest.raises(ProblemError, match="module 'sec_planted_mod' cannot be imported"):
        load_callable("sec_planted_mod:f", key="problem.objective")
    assert not marker.exists() and "sec_planted_mod" not in sys.modules
    assert sys.path[:2] == ["", str(tmp_path)]  # put back as it was


def test_objective_file_imports_do_not_reach_the_current_folder(tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "sec_uses_helper.py").write_text(
        "import sec_helper_mod\n\ndef f(x):\n    return 0.0\n")
    marker = plant(tmp_path / "cwd", "sec_helper_mod")
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    with pytest.raises(ProblemError, match="No module named 'sec_helper_mod'"):
        load_callable("sec_uses_helper.py:f", configs, key="problem.objective")
    assert not marker.exists()


def test_python_m_cli_from_a_folder_with_a_planted_module(tmp_path):
    """End to end: ``python -m engine.cli check`` puts the current folder first on sys.path."""
    marker = plant(tmp_path / "here", "sec_cli_planted")
    config = write_config(tmp_path / "configs", "sec_cli_planted:f", tmp_path / "out")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "check", str(config)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path / "here",
                          env=env)
    assert proc.returncode == 2, proc.stderr
    assert "module 'sec_cli_planted' cannot be imported" in proc.stderr
    assert not marker.exists()
    # Named as the file it is, it is what the user asked for.
    shutil.copy(tmp_path / "here" / "sec_cli_planted.py", tmp_path / "configs")
    write_config(tmp_path / "configs", "sec_cli_planted.py:f", tmp_path / "out")
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "check", str(config)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path / "here",
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "configs" / "sec_cli_planted.imported").exists() and not marker.exists()

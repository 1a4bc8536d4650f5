"""TLS for the Dask clusters the engine starts: the ``security:`` key of a ``cluster:`` block.

On a shared machine every user can reach every port. A Dask scheduler on plain TCP lets any
of them connect and run code as the owner of the run, so every cluster the engine starts
itself uses TLS with mutual authentication:

* ``security: auto`` (the default): fresh credentials made for this run only
  (``distributed.security.Security.temporary()``: a self-signed CA, certificate and key held
  in memory; dask-jobqueue writes the workers' copy to files readable by the owner only).
* ``security: none``: plain TCP, for a machine no one else uses.
* ``security: {tls_ca_file, tls_cert, tls_key}``: a site's own certificates (PEM files; the
  key may be inside the certificate file). The same files serve the scheduler, the workers
  and the client, so for batch jobs they must be readable on the compute nodes.

For ``kind: address`` (a scheduler the engine did not start) ``auto`` means Dask's own
configuration (``distributed.comm.tls.*``); a ``tls://`` address needs credentials from one
or the other. ``distributed`` is imported only where credentials are made: it takes about a
second to import and serial runs never need it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from engine.exceptions import ClusterError

#: The values ``security:`` takes besides a mapping of certificate files.
MODES = ("auto", "none")
#: The keys of a ``security:`` mapping; ``tls_key`` may be left out when the certificate
#: file holds the key too.
SITE_KEYS = ("tls_ca_file", "tls_cert", "tls_key")
_REQUIRED_SITE_KEYS = ("tls_ca_file", "tls_cert")
_ALLOWED = ("'auto' (temporary certificates made for this run; the default), 'none' (plain "
            "TCP, no encryption) or {tls_ca_file: ca.pem, tls_cert: cert.pem, tls_key: key.pem}")
#: Where batch kinds keep the workers' copy of temporary credentials unless
#: ``shared_temp_directory`` says otherwise: the home folder is the one folder compute
#: nodes share with the login node on (almost) every cluster.
DEFAULT_CREDENTIALS_ROOT = "~/.multistart-engine"


def security_errors(value: Any, kind: str) -> list[str]:
    """Problems with a ``security:`` value, as messages (empty when valid).

    Parameters
    ----------
    value : Any
        The value of ``cluster.security`` (absent counts as ``'auto'``).
    kind : str
        The cluster kind, named in the messages.

    Returns
    -------
    list of str
        Each names the key, the bad value, what is allowed and the fix.

    Examples
    --------
    >>> security_errors("auto", "local"), security_errors("none", "slurm")
    ([], [])
    >>> security_errors("off", "local")[0].startswith("cluster.security='off' is not allowed")
    True
    >>> security_errors({"tls_ca_file": "ca.pem"}, "local")[0]
    "cluster.security.tls_cert is required for cluster.kind='local' when security is a mapping; add tls_cert: cert.pem (its key inside it, or tls_key: key.pem)"
    """  # noqa: E501
    if value is None or (isinstance(value, str) and value in MODES):
        return []
    if not isinstance(value, dict):
        return [f"cluster.security={value!r} is not allowed for cluster.kind={kind!r}; use "
                f"{_ALLOWED}"]
    errors = []
    for key in value:
        if key not in SITE_KEYS:
            errors.append(f"unknown key cluster.security.{key} for cluster.kind={kind!r}; "
                          f"allowed: {', '.join(SITE_KEYS)} (PEM files)")
    for key in _REQUIRED_SITE_KEYS:
        if key not in value:
            fix = ("tls_ca_file: ca.pem (the certificate authority that signed the certificates)"
                   if key == "tls_ca_file" else
                   "tls_cert: cert.pem (its key inside it, or tls_key: key.pem)")
            errors.append(f"cluster.security.{key} is required for cluster.kind={kind!r} when "
                          f"security is a mapping; add {fix}")
    for key in SITE_KEYS:
        if key in value:
            errors += _file_errors(key, value[key])
    return errors


def _file_errors(key: str, path: Any) -> list[str]:
    name = f"cluster.security.{key}"
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        return [f"{name}={path!r} is not allowed; give the path of a PEM file"]
    file = Path(os.path.expanduser(os.fspath(path)))
    if not file.is_file():
        return [f"{name}={str(path)!r}: no such file; give the path of a PEM file readable "
                "here (and, for batch jobs, on the compute nodes)"]
    if key == "tls_key" and file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.S_IMODE(file.stat().st_mode)
        return [f"{name}={str(path)!r} can be read by other users (mode {mode:o}); a private "
                f"key must be yours alone: chmod 600 {file}"]
    return []


def temporary_security() -> Any:
    """New temporary credentials: one self-signed certificate and key for every role.

    Returns
    -------
    distributed.security.Security
        With ``require_encryption=True``; the PEM texts are held in memory.

    Raises
    ------
    ClusterError
        When the ``cryptography`` package (which makes the certificate) is missing.
    """
    from distributed.security import Security

    try:
        return Security.temporary()
    except ImportError:
        raise ClusterError(
            "cluster.security='auto' makes temporary TLS certificates, which needs the "
            "cryptography package: pip install cryptography (it comes with "
            "multistart-engine), or set cluster.security: none to run without encryption"
        ) from None


def site_security(files: dict[str, Any]) -> Any:
    """Credentials from a site's certificate files, the same pair for every role.

    Parameters
    ----------
    files : dict
        ``tls_ca_file``, ``tls_cert`` and optionally ``tls_key`` (paths to PEM files).

    Returns
    -------
    distributed.security.Security
    """
    from distributed.security import Security

    ca, cert = (os.path.expanduser(str(files[key])) for key in _REQUIRED_SITE_KEYS)
    key = os.path.expanduser(str(files["tls_key"])) if files.get("tls_key") else None
    return Security(require_encryption=True, tls_ca_file=ca,
                    tls_client_cert=cert, tls_client_key=key,
                    tls_scheduler_cert=cert, tls_scheduler_key=key,
                    tls_worker_cert=cert, tls_worker_key=key)


def make_security(value: Any, kind: str) -> Any:
    """The ``distributed`` Security for a cluster the engine starts; None for ``'none'``.

    Parameters
    ----------
    value : Any
        ``cluster.security``: ``None`` or ``'auto'`` (temporary credentials), ``'none'``, or a
        mapping of certificate files.
    kind : str
        The cluster kind, named in error messages.

    Raises
    ------
    ClusterError
        For a value :func:`security_errors` refuses, or when credentials cannot be made.
    """
    errors = security_errors(value, kind)
    if errors:
        raise ClusterError("; ".join(errors))
    if value == "none":
        return None
    if isinstance(value, dict):
        return site_security(value)
    return temporary_security()


#: The Dask configuration key of each credential a ``Security`` object holds.
_CONFIG_KEYS = {
    "tls_ca_file": "distributed.comm.tls.ca-file",
    "tls_client_cert": "distributed.comm.tls.client.cert",
    "tls_client_key": "distributed.comm.tls.client.key",
    "tls_scheduler_cert": "distributed.comm.tls.scheduler.cert",
    "tls_scheduler_key": "distributed.comm.tls.scheduler.key",
    "tls_worker_cert": "distributed.comm.tls.worker.cert",
    "tls_worker_key": "distributed.comm.tls.worker.key",
}


def security_config(security: Any) -> dict[str, Any]:
    """Dask configuration that makes every ``Security()`` made under it equal ``security``.

    Used where a component builds its own ``Security()`` from Dask's configuration (the
    cluster ``distributed.Client`` starts, the ranks of ``dask_mpi.initialize``).

    Parameters
    ----------
    security : distributed.security.Security or dict
        The credentials, or a mapping of the same attribute names (``tls_ca_file``,
        ``tls_worker_cert``, ...) to file paths or PEM texts.

    Examples
    --------
    >>> security_config({"tls_ca_file": "ca.pem", "tls_worker_cert": "w.pem"})
    {'distributed.comm.require-encryption': True, 'distributed.comm.tls.ca-file': 'ca.pem', 'distributed.comm.tls.worker.cert': 'w.pem'}
    """  # noqa: E501
    get = security.get if isinstance(security, dict) else (
        lambda name: getattr(security, name, None))
    config: dict[str, Any] = {"distributed.comm.require-encryption": True}
    for attr, key in _CONFIG_KEYS.items():
        if get(attr) is not None:
            config[key] = get(attr)
    return config


def security_fields(security: Any) -> dict[str, str]:
    """The credentials of ``security`` as plain strings (to send them to other processes)."""
    return {attr: getattr(security, attr) for attr in _CONFIG_KEYS
            if getattr(security, attr, None) is not None}


def credentials_folder(base: str | None) -> Path:
    """A new folder only the owner can enter, for the workers' copy of the credentials.

    Parameters
    ----------
    base : str, optional
        The folder to make it in (``shared_temp_directory``; ``~`` and ``$VARS`` expanded);
        default :data:`DEFAULT_CREDENTIALS_ROOT`. It must be visible from the compute nodes.

    Returns
    -------
    Path
        An absolute path of a fresh folder with mode 0700; remove it when the cluster closes.
    """
    root = Path(os.path.expandvars(os.path.expanduser(base or DEFAULT_CREDENTIALS_ROOT)))
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Path(tempfile.mkdtemp(prefix="tls-", dir=root)).resolve()
    except OSError as exc:
        raise ClusterError(
            f"cluster.shared_temp_directory={str(root)!r}: cannot make a folder for the "
            f"workers' TLS credentials there ({exc}); give a writable folder that the compute "
            "nodes also see (e.g. shared_temp_directory: ~/dask-tmp)"
        ) from None


class RemoveFolder:
    """Remove a folder (and what is in it) on :meth:`close`; closing twice is harmless.

    ``owner`` (set later) is an object holding open temporary files in the folder, as a
    dask-jobqueue cluster holds the workers' credential files: they are closed first, so
    that they do not try to delete themselves again when the owner is collected.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.owner: Any = None

    def close(self) -> None:
        """Close the owner's files in the folder, then remove it, ignoring errors."""
        for value in list(vars(self.owner).values()) if self.owner is not None else ():
            name = getattr(value, "name", None)
            if isinstance(name, str) and name.startswith(f"{self.path}{os.sep}") \
                    and callable(getattr(value, "close", None)):
                with contextlib.suppress(Exception):
                    value.close()
        shutil.rmtree(self.path, ignore_errors=True)


def jobqueue_security(kind: str, kwargs: dict[str, Any]) -> tuple[dict[str, Any],
                                                                  RemoveFolder | None]:
    """The dask-jobqueue keyword arguments with ``security`` made into credentials.

    With temporary credentials (``'auto'``) dask-jobqueue writes the workers' copy to files
    that the job script names; they go to a new owner-only folder under
    ``shared_temp_directory`` (default :data:`DEFAULT_CREDENTIALS_ROOT`), which the caller
    removes when the cluster closes.

    Parameters
    ----------
    kind : str
        The cluster kind, named in error messages.
    kwargs : dict
        Keyword arguments for the dask-jobqueue cluster class (``security`` as in the YAML).

    Returns
    -------
    (dict, RemoveFolder or None)
        The keyword arguments to use, and the credentials folder to remove afterwards.
    """
    kwargs = dict(kwargs)
    security = make_security(kwargs.pop("security", "auto"), kind)
    if security is None:
        return kwargs, None
    kwargs["security"] = security
    if not any("\n" in value for value in security_fields(security).values()):
        return kwargs, None  # files of the site's: the job script names them as they are
    folder = credentials_folder(kwargs.get("shared_temp_directory"))
    kwargs["shared_temp_directory"] = str(folder)
    return kwargs, RemoveFolder(folder)


def dashboard_loads(link: str | None, timeout: float = 3.0) -> bool:
    """Whether the dashboard page at ``link`` loads from here (HTTP 200).

    A scheduler without ``bokeh`` still answers on its dashboard port, but the page is
    missing; a link is worth printing only when the page is there.

    Examples
    --------
    >>> dashboard_loads(None), dashboard_loads("http://127.0.0.1:9/status", timeout=0.5)
    (False, False)
    """
    if not link or not link.startswith(("http://", "https://")):
        return False
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
    with contextlib.suppress(Exception), opener.open(link, timeout=timeout) as response:
        return response.status == 200
    return False


__all__ = ["DEFAULT_CREDENTIALS_ROOT", "MODES", "SITE_KEYS", "RemoveFolder", "credentials_folder",
           "dashboard_loads", "jobqueue_security", "make_security", "security_config",
           "security_errors", "security_fields", "site_security", "temporary_security"]

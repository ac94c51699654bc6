"""A throwaway Synapse for the Matrix adapter's live tests: generated into a
folder, SQLite, listening on 127.0.0.1 only (a free port), federation off,
registration open, rate limits raised, the sync cache off; stopped by its
PID. Run inside the virtual environment that has matrix-synapse.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional

import yaml  # Synapse's own dependency

_LIMIT = {"per_second": 100000, "burst_count": 1000000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Synapse:
    """One homeserver in `folder`; `url` once started."""

    def __init__(self, folder: str) -> None:
        self.folder = os.path.abspath(folder)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Optional["subprocess.Popen[bytes]"] = None

    def configure(self) -> str:
        config = os.path.join(self.folder, "homeserver.yaml")
        os.makedirs(self.folder, exist_ok=True)
        subprocess.run([sys.executable, "-m", "synapse.app.homeserver", "--server-name",
                        "localhost", "--config-path", config, "--generate-config",
                        "--report-stats=no"], cwd=self.folder, check=True,
                       stdout=subprocess.DEVNULL)
        with open(config, encoding="utf-8") as f:
            c: Dict[str, Any] = yaml.safe_load(f)
        c.update({
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                           "tls": False, "x_forwarded": False,
                           "resources": [{"names": ["client"], "compress": False}]}],
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "federation_domain_whitelist": [],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "presence": {"enabled": False},
            "caches": {**c.get("caches", {}), "sync_response_cache_duration": 0},
            "rc_message": _LIMIT, "rc_registration": _LIMIT,
            "rc_login": {"address": _LIMIT, "account": _LIMIT, "failed_attempts": _LIMIT},
            "rc_joins": {"local": _LIMIT, "remote": _LIMIT},
            "rc_invites": {"per_room": _LIMIT, "per_user": _LIMIT, "per_issuer": _LIMIT},
            "rc_room_creation": _LIMIT,
            "rc_joins_per_room": _LIMIT,
            "log_config": os.path.join(self.folder, "log.yaml"),
        })
        with open(config, "w", encoding="utf-8") as f:
            yaml.safe_dump(c, f)
        log = {"version": 1, "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
               "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain",
                                     "filename": os.path.join(self.folder, "homeserver.log")}},
               "root": {"level": "WARNING", "handlers": ["file"]},
               "disable_existing_loggers": False}
        with open(os.path.join(self.folder, "log.yaml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(log, f)
        return config

    def start(self, timeout_s: float = 60) -> None:
        config = self.configure()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "--config-path", config],
            cwd=self.folder, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.folder, "stderr.log"), "wb"))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"synapse exited with {self.process.returncode}: see "
                                   f"{self.folder}/stderr.log")
            try:
                urllib.request.urlopen(self.url + "/_matrix/client/versions", timeout=2).read()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"synapse did not answer within {timeout_s} s")

    def stop(self) -> None:
        """Stops the server by its PID (SIGTERM, then SIGKILL)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


class Client:
    """A user's session: the few client-server calls the tests need."""

    def __init__(self, server: Synapse, user: str, password: str = "secret-pw",
                 register: bool = True) -> None:
        self.server = server
        body = {"username": user, "password": password,
                "auth": {"type": "m.login.dummy"}} if register else {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
            "password": password}
        answer = self.call("POST", "/register" if register else "/login", body, token=None)
        self.user_id: str = answer["user_id"]
        self.token: str = answer["access_token"]
        self.txn = 0

    def call(self, method: str, path: str, body: Optional[Any] = None,
             token: Optional[str] = "") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server.url + "/_matrix/client/v3" + path,
                                         data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token or self.token}")
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.loads(r.read() or b"{}")

    def login_again(self) -> "Client":
        """A second device of this user."""
        return Client(self.server, self.user_id.split(":")[0][1:], register=False)

    def create_room(self, name: Optional[str] = None, invite: Any = (), direct: bool = False) -> str:
        body: Dict[str, Any] = {"invite": list(invite), "is_direct": direct,
                                "preset": "trusted_private_chat" if direct else "private_chat"}
        if name:
            body["name"] = name
        return str(self.call("POST", "/createRoom", body)["room_id"])

    def join(self, room: str) -> None:
        self.call("POST", f"/join/{_q(room)}", {})

    def leave(self, room: str) -> None:
        self.call("POST", f"/rooms/{_q(room)}/leave", {})

    def send(self, room: str, content: Dict[str, Any], kind: str = "m.room.message") -> str:
        self.txn += 1
        path = f"/rooms/{_q(room)}/send/{kind}/t{self.txn}-{time.monotonic_ns()}"
        return str(self.call("PUT", path, content)["event_id"])

    def say(self, room: str, text: str, mention: Optional[str] = None) -> str:
        content: Dict[str, Any] = {"msgtype": "m.text", "body": text}
        if mention:
            content["m.mentions"] = {"user_ids": [mention]}
        return self.send(room, content)

    def edit(self, room: str, event_id: str, text: str) -> str:
        return self.send(room, {"msgtype": "m.text", "body": "* " + text,
                                "m.new_content": {"msgtype": "m.text", "body": text},
                                "m.relates_to": {"rel_type": "m.replace", "event_id": event_id}})

    def redact(self, room: str, event_id: str) -> None:
        self.txn += 1
        self.call("PUT", f"/rooms/{_q(room)}/redact/{_q(event_id)}/r{self.txn}", {})

    def read_receipt(self, room: str, event_id: str) -> None:
        self.call("POST", f"/rooms/{_q(room)}/receipt/m.read/{_q(event_id)}", {})

    def set_name(self, room: str, name: str) -> None:
        self.call("PUT", f"/rooms/{_q(room)}/state/m.room.name", {"name": name})

    def tag(self, room: str, tag: str) -> None:
        self.call("PUT", f"/user/{_q(self.user_id)}/rooms/{_q(room)}/tags/{_q(tag)}", {})

    def mark_unread(self, room: str, unread: bool = True) -> None:
        self.call("PUT", f"/user/{_q(self.user_id)}/rooms/{_q(room)}/account_data/m.marked_unread",
                  {"unread": unread})

    def mute(self, room: str) -> None:
        self.call("PUT", f"/pushrules/global/room/{_q(room)}", {"actions": []})

    def set_direct(self, direct: Dict[str, Any]) -> None:
        self.call("PUT", f"/user/{_q(self.user_id)}/account_data/m.direct", direct)


def _q(s: str) -> str:
    return urllib.request.quote(s, safe="")

"""`python -m webapp` as a separate process: a server for tests that kill, restart or run
several, and a CLI command run to its end."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def server_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SECRET_KEY": "test-instances",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start_server(env: dict[str, str], stderr: Any = None, cwd: Path = ROOT) -> subprocess.Popen:
    """`stderr`: where its log goes (a file), the test's own by default; `cwd`: where it
    runs (elsewhere, with PYTHONPATH naming ROOT in `env`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "webapp"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


async def wait_until_listening(port: int, attempts: int = 300) -> None:
    for _ in range(attempts):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"no server on port {port}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def paas_style(database_url: str) -> str:
    """PaaS platforms hand out `postgres://` URLs; the CLI must take them as they are."""
    return database_url.replace("postgresql+asyncpg://", "postgres://")


async def run_cli(database_url: str, *args: str, timeout: float = 60) -> tuple[int, str]:
    """`python -m webapp ARGS` against `database_url`, to its end; (exit code, output)."""
    env = {
        **os.environ,
        "DATABASE_URL": paas_style(database_url),
        "SECRET_KEY": "cli-test",
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "webapp",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, output.decode()

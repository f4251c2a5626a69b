"""`python -m webapp [command]`: serve (no command), or the commands README.md lists."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from ocpp_core.db.engine import create_engine, create_session_factory
from ocpp_core.db.migrate import MigrationRefused, upgrade
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.events import EventBus
from ocpp_core.services import Services
from ocpp_core.services.api_tokens import NewToken, TokenView
from ocpp_core.services.charge_points import KEEP
from ocpp_core.services.retention import Pruned
from ocpp_core.services.users import ROLES, UserView
from ocpp_core.settings import Settings, SettingsError
from ocpp_core.timeutil import format_datetime, parse_datetime
from simulator.common import SimulatorConfig
from webapp.log_format import EscapingFormatter

T = TypeVar("T")

LISTEN_BACKLOG = 4096


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (Linux, macOS): the same asyncio, a faster loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m webapp",  # or `voltaro`, the console script of pip install -e .
        description="Voltaro OCPP 1.6J and 2.0.1 central system. Without a command: serve.",
    )
    commands = parser.add_subparsers(dest="command")

    db = commands.add_parser("db", help="the database")
    db_cmd = db.add_subparsers(dest="action", required=True)
    db_cmd.add_parser("upgrade", help="apply the alembic migrations")
    db_prune = db_cmd.add_parser(
        "prune",
        help="remove what the RETAIN_* settings keep no longer (as the server does every "
        "PRUNE_INTERVAL), saying how many rows of each table",
    )
    db_prune.add_argument(
        "--dry-run", action="store_true", help="remove nothing: say what it would remove"
    )

    user = commands.add_parser("user", help="operator accounts")
    user_cmd = user.add_subparsers(dest="action", required=True)
    user_add = user_cmd.add_parser("add", help="create or update an operator account")
    user_add.add_argument("name")
    user_add.add_argument("--password", required=True)
    user_add.add_argument("--role", choices=ROLES, default="operator")

    token = commands.add_parser("token", help="API tokens (Authorization: Bearer)")
    token_cmd = token.add_subparsers(dest="action", required=True)
    token_create = token_cmd.add_parser(
        "create", help="create an API token of an account; its secret is printed once"
    )
    token_create.add_argument("--user", required=True, help="the account it acts as")
    token_create.add_argument("--name", required=True, help="what uses it")
    token_create.add_argument(
        "--role", choices=ROLES, help="its role: the account's (default) or a lower one"
    )
    token_cmd.add_parser("list", help="every account's tokens (never their secrets)")
    token_revoke = token_cmd.add_parser("revoke", help="revoke a token: it stops working at once")
    token_revoke.add_argument("id", type=int, help="its id, as `token list` shows it")

    cp = commands.add_parser("charge-point", help="charge points")
    cp_cmd = cp.add_subparsers(dest="action", required=True)
    cp_add = cp_cmd.add_parser("add", help="register (and accept) a charge point")
    cp_add.add_argument("id")
    cp_add.add_argument(
        "--password", help="enables HTTP Basic auth (security profile 1), 16 to 40 characters"
    )
    cp_add.add_argument(
        "--serial",
        help="its serial number: the CN its client certificate must carry (security profile "
        "3); otherwise bound by its first boot authenticated by its key (or certificate alone "
        "if it has no key)",
    )
    cp_add.add_argument(
        "--ocpp",
        choices=("1.6", "2.0.1"),
        help="pin the one OCPP version it may connect with (default: the first it offers "
        "that Voltaro serves)",
    )
    cp_add.add_argument(
        "--ping-interval",
        type=int,
        metavar="SECONDS",
        help="WebSocket ping interval for this charger (0: none, for chargers that cannot "
        "answer pings); default WS_PING_INTERVAL",
    )
    strictness = cp_add.add_mutually_exclusive_group()
    strictness.add_argument(
        "--lenient",
        action="store_const",
        const=True,
        help="tolerate this charger's non-conformant frames where their meaning is clear "
        "(numbers as strings, long serial numbers, unknown units, kWh), recording each",
    )
    strictness.add_argument(
        "--strict", dest="lenient", action="store_const", const=False, help="lenient mode off"
    )
    cp_remove = cp_cmd.add_parser(
        "remove",
        help="remove a charge point, whatever its id (one with recorded sessions is kept); "
        "a connected one is disconnected",
    )
    cp_remove.add_argument("id", help="its id exactly as registered ('--' before one like '-x')")

    tag = commands.add_parser("id-tag", help="authorisation tags")
    tag_cmd = tag.add_subparsers(dest="action", required=True)
    tag_add = tag_cmd.add_parser("add", help="add or replace an id tag")
    tag_add.add_argument("tag")
    tag_add.add_argument("--expires", help="ISO 8601 date-time")
    tag_add.add_argument("--parent", help="parent id tag")
    tag_add.add_argument("--blocked", action="store_true")

    sim = commands.add_parser(
        "simulate",
        help="run simulated charge points",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sim.add_argument(
        "--url",
        default=f"ws://127.0.0.1:{os.environ.get('PORT') or 9000}/ocpp",
        help="endpoint base URL (the port: PORT, as the server's)",
    )
    sim.add_argument(
        "--ocpp",
        choices=("1.6", "2.0.1", "mixed"),
        default="1.6",
        help="OCPP version the charge points speak; mixed: odd numbers 1.6, even 2.0.1",
    )
    sim.add_argument(
        "--charge-points", type=int, default=1, metavar="N", help="how many charge points"
    )
    sim.add_argument("--id-prefix", default="SIM", metavar="P", help="their ids are P1..PN")
    sim.add_argument("--connectors", type=int, default=2, help="connectors (2.0.1: EVSEs) of each")
    sim.add_argument("--password", help="HTTP Basic password of every simulated charge point")
    sim.add_argument(
        "--meter-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between meter values (2.0.1: whole seconds, TxUpdatedInterval)",
    )
    sim.add_argument(
        "--session-every",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="start a local session about this often (0: only remote sessions)",
    )
    sim.add_argument(
        "--session-length",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a local session lasts",
    )
    sim.add_argument(
        "--id-tag",
        default="SIMTAG",
        metavar="PREFIX",
        help="local sessions' id tags: charge point N's is PREFIX followed by N",
    )
    sim.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    return parser


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level, logging.INFO), handlers=[handler])
    # The library's own logger reports every frame; our handler logs what matters.
    logging.getLogger("ocpp").setLevel(max(logging.WARNING, logging.getLogger().level))


async def _with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        return await work(Services.create(create_session_factory(engine), EventBus(), settings))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _setup_logging(settings.log_level)

    try:
        if args.command is None:
            from webapp.app import create_app
            from webapp.tls import server_ssl_context

            web.run_app(
                create_app(settings),
                host=settings.host,
                port=settings.port,
                ssl_context=server_ssl_context(settings),
                # After a restart every charger reconnects at once: a short accept queue
                # would drop their SYNs and make them wait a second to try again.
                backlog=LISTEN_BACKLOG,
                loop=_event_loop(),
            )
        elif args.command == "db" and args.action == "prune":

            async def prune(services: Services) -> list[Pruned] | None:
                return await services.retention.prune(dry_run=args.dry_run, actor="cli")

            pruned = asyncio.run(_with_services(settings, prune))
            for line in prune_report(pruned or [], args.dry_run):
                print(line)
        elif args.command == "db":
            asyncio.run(_with_services(settings, _noop))
            print("database is up to date")
        elif args.command == "user":

            async def add_user(services: Services) -> UserView:
                return await services.users.add(args.name, args.password, args.role, actor="cli")

            user = asyncio.run(_with_services(settings, add_user))
            print(f"user {user.username} ({user.role}) saved")
        elif args.command == "token":
            return _token(settings, args)
        elif args.command == "charge-point" and args.action == "remove":

            async def remove_charge_point(services: Services) -> None:
                await services.charge_points.delete(args.id, actor="cli")

            asyncio.run(_with_services(settings, remove_charge_point))
            print(f"charge point {args.id!r} removed")
        elif args.command == "charge-point":
            if args.ping_interval is not None:  # checked before anything is written
                _check_ping_interval(args.ping_interval)

            async def add_charge_point(services: Services) -> None:
                charge_points = services.charge_points
                await charge_points.register(
                    args.id,
                    args.password,
                    serial_number=args.serial,
                    ocpp_version=args.ocpp,
                    actor="cli",
                )
                # Not audited: part of the registration the entry above records.
                await charge_points.set_protocol_settings(
                    args.id,
                    lenient=KEEP if args.lenient is None else args.lenient,
                    ping_interval=KEEP if args.ping_interval is None else args.ping_interval,
                )

            asyncio.run(_with_services(settings, add_charge_point))
            auth = "with HTTP Basic auth" if args.password else "without a password"
            print(f"charge point {args.id} registered and accepted, {auth}")
        elif args.command == "id-tag":
            try:
                expires = parse_datetime(args.expires) if args.expires else None
            except ValueError:
                raise InvalidInput(
                    f"--expires is not an ISO 8601 date-time: {args.expires}"
                ) from None

            async def add_id_tag(services: Services) -> None:
                await services.id_tags.add(
                    args.tag, expires, args.parent, args.blocked, actor="cli"
                )

            asyncio.run(_with_services(settings, add_id_tag))
            print(f"id tag {args.tag} saved")
        elif args.command == "simulate":
            return _simulate(args)
    except (InvalidInput, NotFound, MigrationRefused) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    """`token create|list|revoke`: the secret of a new token is printed once, alone on the
    first line (for `| head -1`), and nowhere else."""
    from webapp.presentation import when

    async def create(services: Services) -> NewToken:
        owner = await services.users.credentials_by_name(args.user)
        if owner is None:
            raise NotFound(f"user {args.user} does not exist")
        return await services.api_tokens.create(owner.user.id, args.name, args.role, actor="cli")

    async def revoke(services: Services) -> TokenView:
        return await services.api_tokens.revoke(args.id, actor="cli")

    if args.action == "create":
        created = asyncio.run(_with_services(settings, create))
        print(created.secret)
        print(
            f"token {created.token.id} {created.token.name!r} of {created.token.username} "
            f"({created.token.role}): copy it now, it is not shown again",
            file=sys.stderr,
        )
    elif args.action == "list":
        tokens = asyncio.run(_with_services(settings, lambda s: s.api_tokens.list()))
        print("id\tuser\tname\tprefix\trole\tcreated\tlast used\trevoked")
        for t in tokens:
            print(
                f"{t.id}\t{t.username}\t{t.name}\t{t.prefix}...\t{t.effective_role}\t"
                f"{when(t.created_at)}\t{when(t.last_used_at)}\t"
                f"{when(t.revoked_at) if t.revoked_at else '-'}"
            )
    else:
        token = asyncio.run(_with_services(settings, revoke))
        print(f"token {token.id} {token.name!r} of {token.username} revoked")
    return 0


def prune_report(results: list[Pruned], dry_run: bool) -> list[str]:
    """One line per table: how many rows went (or would go), and the cut-off."""
    lines = ["dry run: nothing is removed"] if dry_run else []
    for pruned in results:
        setting = f"{pruned.setting}={pruned.days}"
        if pruned.cutoff is None:
            lines.append(f"{pruned.table}: kept forever ({setting})")
            continue
        verb = "would remove" if dry_run else "removed"
        what = f"{pruned.rows} rows"
        if pruned.sessions is not None:
            what += f" of {pruned.sessions} sessions closed"
        else:
            what += " stored"
        lines.append(
            f"{pruned.table}: {verb} {what} before {format_datetime(pruned.cutoff)} "
            f"({setting}), {pruned.batches} batch{'' if pruned.batches == 1 else 'es'}"
        )
    return lines


def _check_ping_interval(seconds: int) -> None:
    from webapp.views.charge_points import MAX_PING_INTERVAL

    if not 0 <= seconds <= MAX_PING_INTERVAL:
        raise InvalidInput(f"--ping-interval must be 0 (off) to {MAX_PING_INTERVAL} seconds")


async def _noop(_services: Services) -> None:
    return None


def _simulate(args: argparse.Namespace) -> int:
    from webapp.simulate import id_tag_hint, simulate

    if args.charge_points < 1:
        print("error: --charge-points must be at least 1", file=sys.stderr)
        return 2
    config = SimulatorConfig(
        connectors=args.connectors,
        meter_interval=args.meter_interval,
        session_every=args.session_every or None,
        session_length=args.session_length,
        id_tag=args.id_tag,
    )
    if config.session_every:
        print(id_tag_hint(args.id_tag, args.charge_points), flush=True)
    try:
        asyncio.run(
            simulate(
                args.url,
                args.charge_points,
                args.id_prefix,
                config,
                duration=args.duration,
                password=args.password,
                ocpp=args.ocpp,
            )
        )
    except KeyboardInterrupt:
        pass
    return 0

"""Background work: ``tidings worker``."""

from __future__ import annotations

import signal
from types import FrameType

import click

from tidings.cli.context import Context, pass_ctx
from tidings.workers import ROLES, Worker, WorkerOptions


@click.command()
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(ROLES),
    help="What this worker does (repeatable; default: all three). Run any number of "
    "workers of each role, on any number of machines sharing one PostgreSQL.",
)
@click.option(
    "--until-idle",
    is_flag=True,
    help="Stop once there is nothing left to do (a one-off catch-up; benchmarks).",
)
@pass_ctx
def worker(ctx: Context, roles: tuple[str, ...], until_idle: bool) -> None:
    """Read sources, analyse articles and send digests until stopped (SIGTERM or Ctrl-C).

    Workers share the work through the database: no source is read twice in a due window,
    no article analysed twice, and what a worker that died held is taken over when its
    leases run out ([workers] lease_seconds). Exits non-zero when it fails for Tidings' own
    reasons (storage full or gone), so that a supervisor restarts it.
    """
    chosen = roles or ROLES
    if "analyse" in chosen:
        from tidings.enrich.pipeline import check_models

        check_models()
    engine = ctx.engine
    running = Worker(engine, chosen, say=click.echo, options=WorkerOptions(until_idle=until_idle))

    def stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"stopping ({signal.Signals(signum).name}): finishing the work in hand")
        running.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"worker {engine.accounts.holder}: {', '.join(chosen)}")
    running.run()
    click.echo("stopped")

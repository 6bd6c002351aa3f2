"""`kafka-logging chaos`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click


@click.command()
@click.option("--seed", default=1, show_default=True, help="Same seed, same fault schedule.")
@click.option("--duration", default=120.0, show_default=True, help="Seconds of load and faults.")
@click.option(
    "--app-rate",
    default=40.0,
    show_default=True,
    help="Records/s of each app generator (3 apps, one with 2 forked workers).",
)
@click.option("--file-rate", default=25.0, show_default=True, help="Lines/s of each of 3 files.")
@click.option(
    "--drain-timeout",
    default=300.0,
    show_default=True,
    help="Seconds to wait, after the load, for everything to be indexed.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("chaos-report.json"),
    show_default=True,
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the run's files here (default: a temporary folder under /var/tmp).",
)
@click.option("--keep", is_flag=True, help="Do not delete the work folder.")
@click.option(
    "--search-engine",
    default="elasticsearch:9.2.0",
    show_default=True,
    help="The engine the private stack runs, as for `stack up` (e.g. opensearch:2.19.1).",
)
def chaos(
    seed: int,
    duration: float,
    app_rate: float,
    file_rate: float,
    drain_timeout: float,
    report_path: Path,
    workdir: Path | None,
    keep: bool,
    search_engine: str,
) -> None:
    """Prove it: every record written reaches Elasticsearch exactly once, whatever fails.

    Starts a private 3-broker Kafka cluster (replication 3, min.insync.replicas 2) and an
    Elasticsearch node, two indexers, a shipper tailing three files that are rotated both
    ways, and three apps logging through KafkaHandler (one forking two workers). On a schedule
    drawn from --seed it SIGKILLs the shipper, indexers and apps, kills and restarts a broker,
    freezes one with SIGSTOP, and stops Elasticsearch. Then it compares the ground truth
    (every record the generators recorded as written) with Elasticsearch and reports lost,
    duplicated and dead-lettered counts. A daemon that exits outside the fault plan is reported
    and restarted. Exit 1 unless 0 lost, 0 duplicated and no unexpected exit.
    """
    from kafka_logging.chaos.plot import svg  # noqa: PLC0415
    from kafka_logging.chaos.run import Options, run_chaos  # noqa: PLC0415

    start = time.monotonic()

    def say(message: str) -> None:
        click.echo(f"[chaos {time.monotonic() - start:6.1f}s] {message}", err=True)

    options = Options(
        seed, duration, app_rate, file_rate, drain_timeout, workdir, keep, search_engine
    )
    report = run_chaos(options, say)
    report_path.write_text(json.dumps(report, indent=2))
    plot_path = report_path.with_suffix(".svg")
    plot_path.write_text(svg(report))
    _print(report)
    click.echo(f"report: {report_path}, plot: {plot_path}")
    clean = report["lost"] == 0 and report["duplicated"] == 0 and not report["unexpected_exits"]
    sys.exit(0 if clean else 1)


def _print(report: dict[str, Any]) -> None:
    click.echo(f"\nchaos run, seed {report['seed']}, {report['duration_s']:.0f}s of load")
    for key in (
        "written",
        "indexed_documents",
        "lost",
        "duplicated",
        "dead_lettered",
        "unexpected_exits",
        "unconfirmed_but_indexed",
        "generators",
        "rotations",
        "throughput_records_per_s",
    ):
        click.echo(f"  {key:28} {report[key]}")
    for key in ("lost_records", "duplicated_records"):
        for item in report.get(key, []):
            first, last = item["seq"]
            copies = f" x{item['copies']}" if "copies" in item else ""
            click.echo(
                f"  {key[:-8]:10} {item['generator']} seq {first}..{last}{copies} ({item['path']})"
            )
    click.echo("  timeline (s: written / indexed / lag):")
    for point in report["timeline"]:
        lag = "ES down" if point["lag"] is None else point["lag"]
        click.echo(f"    {point['t']:7.1f}  {point['written']:8} {point['indexed']:8}  {lag}")

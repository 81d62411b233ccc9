"""The `lumbung` command: thin wrappers that open a transaction and call the services."""

from __future__ import annotations

import os

# Arrow's memory from jemalloc rather than pyarrow's default, mimalloc, which hands freed memory
# back to the system at once: a release allocates and frees gigabytes slice by slice, and the
# system then spends its time mapping pages in again. A release of 1.1 M families (SQLite,
# four alternating pairs of runs): 10.6-11.4 s with mimalloc, 10.1-10.6 s with jemalloc, each
# pair won by jemalloc; 3.8-4.7 s against 3.1-3.6 s of system time; ~50 MB less at the peak
# (benchmarks/README.md, eighth session). pyarrow fixes its allocator when it is imported, so
# this comes before every other import; an operator's own ARROW_DEFAULT_MEMORY_POOL is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

import typer

from lumbung.cli import jobs, link_merge
from lumbung.cli.admin import audit_app, db_app, keys_app, regions_app, users_app
from lumbung.cli.aid import aid_app
from lumbung.cli.civil import civil_app
from lumbung.cli.credentials import tokens_app  # also adds `users set-password|unlock|reset-totp`
from lumbung.cli.cycles import cycle_app, explain_command
from lumbung.cli.delivery import delivery_app
from lumbung.cli.demo import demo_command
from lumbung.cli.imports import import_command
from lumbung.cli.linkage import link_app
from lumbung.cli.payfiles import payfile_app
from lumbung.cli.programs import program_app
from lumbung.cli.registry import registry_app
from lumbung.cli.releases import release_app
from lumbung.cli.reports import report_app
from lumbung.cli.requests import request_app
from lumbung.cli.serve import serve_command
from lumbung.cli.simulate import simulate_app
from lumbung.cli.synth import synth_command
from lumbung.cli.targeting import pmt_app
from lumbung.cli.vouchers import voucher_app

app = typer.Typer(
    help="Lumbung: the social registry and benefits delivery (messages in Indonesian).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(regions_app, name="regions")
app.add_typer(users_app, name="users")
app.add_typer(registry_app, name="registry")
app.add_typer(request_app, name="request")
app.add_typer(release_app, name="release")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(program_app, name="program")
app.add_typer(pmt_app, name="pmt")
app.add_typer(cycle_app, name="cycle")
app.add_typer(simulate_app, name="simulate")
delivery_app.add_typer(payfile_app, name="file")
delivery_app.add_typer(voucher_app, name="voucher")
app.add_typer(delivery_app, name="delivery")
app.add_typer(report_app, name="report")
app.add_typer(tokens_app, name="tokens")
app.add_typer(aid_app, name="aid")
app.add_typer(civil_app, name="civil")
link_merge.register(link_app)  # `lumbung link merge|merges|merge-report`
app.add_typer(link_app, name="link")
app.command("explain")(explain_command)
app.command("import")(import_command)
app.command("synth")(synth_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)
jobs.register(app)  # `lumbung worker`, `lumbung jobs …`

__all__ = ["app"]

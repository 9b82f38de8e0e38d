from apmkit.cli.main import run

run()

from siyada.cli import app

app(prog_name="siyada")

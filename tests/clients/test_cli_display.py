"""What the `gateway` CLI shows: tables that fit a terminal without cutting an id, text cut
between graphemes, help that describes every command and says where credentials come from."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import regex
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from payment_gateway.cli import Column, cut, main, render_table

GATEWAY = str(Path(sys.executable).with_name("gateway"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

HARD_TEXTS = [
    "😀 Smile Store",
    "🇮🇳🇯🇵 Flags Ltd",
    "E\u0301mile's Bakery",
    "👩\u200d👩\u200d👧 Family & Co",
    "👍🏽 Thumbs",
    "plain ascii text",
]


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


@pytest.mark.parametrize("text", HARD_TEXTS)
def test_cut_never_splits_a_grapheme(text):
    whole = graphemes(text)
    for width in range(1, cell_len(text) + 2):
        shown = cut(text, width)
        assert cell_len(shown) <= width, (shown, width)
        kept = graphemes(shown.removesuffix("…")) if shown != text else whole
        assert kept == whole[: len(kept)], (shown, width)  # whole graphemes, in order
    assert cut("😀 Smile Store", 3) == "😀…"
    assert cut("E\u0301mile", 3) == "E\u0301m…"


def test_a_table_of_hard_texts_at_80_columns_keeps_ids_and_graphemes():
    items = [
        {"id": f"pay_{'A' * 12}{n:04d}", "name": text * 3} for n, text in enumerate(HARD_TEXTS)
    ]
    columns = [
        Column("id", lambda i: i["id"], is_id=True),
        Column("merchant", lambda i: i["name"]),
        Column("note", lambda i: i["name"]),
    ]
    console = Console(width=80, record=True, force_terminal=False)
    console.print(render_table("Hard", columns, items, 80))
    text = console.export_text()
    for line in text.splitlines():
        assert cell_len(line) <= 80, line
    for item in items:
        assert item["id"] in text
    cells = [cell.strip() for line in text.splitlines() for cell in line.split("│")[2:3]]
    for cell in filter(None, cells):
        if cell in ("merchant",) or cell.startswith("━"):
            continue
        source = next(t * 3 for t in HARD_TEXTS if (t * 3).startswith(cell.removesuffix("…")))
        assert (
            graphemes(cell.removesuffix("…"))
            == graphemes(source)[: len(graphemes(cell.removesuffix("…")))]
        )


def in_terminal(args: list[str], env: dict[str, str], columns: int = 80) -> str:
    """Run `args` in a pseudo-terminal `columns` wide, as a person would; its output without
    colours."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        args, stdin=follower, stdout=follower, stderr=follower,
        env={**env, "TERM": "xterm-256color"}, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process ended and closed the terminal
            break
        if not chunk:
            break
        output += chunk
    process.wait(60)
    os.close(leader)
    return ANSI.sub("", output.decode()).replace("\r\n", "\n")


@pytest.mark.slow
def test_tables_at_80_columns_never_cut_an_id(api_url, fresh_merchant):
    order = fresh_merchant.orders.create(amount=12345)
    fresh_merchant.payments.create(order.id, "upi", vpa="wide@okaxis")
    fresh_merchant.webhooks.update_config("http://127.0.0.1:9/hook")
    fresh_merchant.webhooks.send_test()
    env = {**os.environ, "GATEWAY_API_URL": api_url, "GATEWAY_API_KEY": fresh_merchant.api_key,
           "GATEWAY_API_SECRET": fresh_merchant._credentials[1], "GATEWAY_CONFIG": "/nonexistent"}  # fmt: skip
    for command, id_fields in [
        ("payments", ("id", "order_id")),
        ("events", ("id",)),
        ("webhooks", ("id",)),
    ]:
        listed = subprocess.run(
            [GATEWAY, "--json", command, "list"], env=env, capture_output=True, text=True,
            timeout=60, check=True,
        )  # fmt: skip
        ids = [item[f] for item in json.loads(listed.stdout)["data"] for f in id_fields]
        assert ids, command
        shown = in_terminal([GATEWAY, command, "list"], env)
        lines = shown.splitlines()
        assert all(cell_len(line) <= 80 for line in lines), shown
        for identifier in ids:
            assert any(identifier in line for line in lines), (identifier, shown)
        if command == "events":
            payment_ids = {e["data"]["payment"]["id"] for e in json.loads(listed.stdout)["data"]
                           if "payment" in e["data"]}  # fmt: skip
            assert all(any(p in line for line in lines) for p in payment_ids), shown


@pytest.mark.parametrize("group", ["webhooks", "payments", "events"])
def test_every_command_of_a_group_has_a_description(group):
    result = CliRunner().invoke(main, [group, "--help"], terminal_width=80)
    commands = result.output.split("Commands:")[1].strip().splitlines()
    assert commands
    for line in commands:
        name, _, description = line.strip().partition(" ")
        assert description.strip(), f"gateway {group} {name} has no description"


def test_no_credentials_points_at_help_that_explains_the_config_file():
    env = {"GATEWAY_CONFIG": "/nonexistent/gateway.toml", "GATEWAY_API_KEY": "",
           "GATEWAY_API_SECRET": ""}  # fmt: skip
    failed = CliRunner().invoke(main, ["payments", "list"], env=env)
    helped = CliRunner().invoke(main, ["--help"], env=env, terminal_width=80)

    assert failed.exit_code == 2
    assert "`gateway --help` shows how" in failed.output
    assert "/nonexistent/gateway.toml" in failed.output
    assert "gateway payments list --help" not in failed.output  # that help says nothing of it
    for words in ("GATEWAY_CONFIG", "~/.config/gateway/config.toml", 'api_key = "',
                  'api_secret = "', "GATEWAY_API_KEY"):  # fmt: skip
        assert words in helped.output

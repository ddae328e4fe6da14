"""A private stack makes no outbound request the user did not ask for (DESIGN invariant 9).

The stack runs on a compose network whose bridge has no route out: its default network is created
first, with our own bridge name and the labels Compose expects (Compose then uses it as its own), and a
DOCKER-USER rule drops everything the bridge would forward elsewhere. tcpdump captures the bridge
during `up` and a short use (a chat request, a search, n8n's import at up). Asserted:
- no packet goes to an address outside the private, loopback, link-local and multicast ranges;
- no DNS query leaves the bridge at all: names of the stack's services are answered by Docker's
  embedded DNS inside each container (127.0.0.11), so any query seen on the bridge is one Docker
  forwards upstream, i.e. a lookup of an external name;
- no service log reports a failed lookup or connection (which a dropped packet would cause).

LOCALAI_E2E_PLANT_OUTBOUND=1 plants an outbound call (a lookup and a connection from inside the searxng
container) to show that the test fails when something calls out.
"""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, docker, make_stack

INTERNAL = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4",
    "255.255.255.255/32", "0.0.0.0/32", "fe80::/10", "ff00::/8", "fc00::/7", "::1/128", "::/128")]
PACKET = re.compile(r"\bIP6? (\S+) > (\S+?): (.*)$")
DNS_QUESTION = re.compile(r"\b(?:A|AAAA|PTR|SRV|TXT|MX|CNAME|HTTPS|SVCB|NS|SOA|ANY)\? (\S+?)\.? \(")
# What a service logs when a lookup or a connection it tried was cut off (Python, Node, Go, curl, Elixir).
FAILED_CONNECTION = re.compile(
    r"Temporary failure in name resolution|Name or service not known|No address associated with hostname|"
    r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|\bENOTFOUND\b|\bEAI_AGAIN\b|Network is unreachable|ENETUNREACH|"
    r"Could not resolve host|no such host|nxdomain|Failed to establish a new connection|ConnectTimeout",
    re.IGNORECASE)
PLANTED = ("example.com", "93.184.215.14")


def is_internal(address: str) -> bool:
    """`address` as tcpdump -nn prints it (a.b.c.d.port, or v6addr.port)."""
    host = address.rsplit(".", 1)[0] if address.count(".") == 4 or ":" in address else address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in INTERNAL)


def outbound(capture: str) -> tuple[list[str], list[str]]:
    """(packets to a non-internal address, DNS questions) in tcpdump -nn -l text output."""
    leaving, questions = [], []
    for line in capture.splitlines():
        match = PACKET.search(line)
        if not match:
            continue
        if not is_internal(match.group(2)):
            leaving.append(line)
        question = DNS_QUESTION.search(match.group(3))
        if question and match.group(2).endswith(".53"):
            questions.append(question.group(1))
    return leaving, questions


def test_the_parser_sees_what_leaves():
    """The detector itself, on lines as tcpdump prints them."""
    capture = "\n".join((
        "1.0 IP 172.29.0.3.41234 > 10.255.255.53.53: 4660+ A? api.openai.com. (32)",
        "1.1 IP 172.29.0.3.51234 > 104.18.7.192.443: Flags [S], seq 1, win 64240, length 0",
        "1.2 IP 172.29.0.4.5432 > 172.29.0.3.40000: Flags [P.], length 10",
        "1.3 IP6 fe80::1 > ff02::2: ICMP6, router solicitation, length 16",
        "1.4 ARP, Request who-has 172.29.0.1 tell 172.29.0.3, length 28",
    ))
    leaving, questions = outbound(capture)
    assert leaving == [capture.splitlines()[1]]
    assert questions == ["api.openai.com"]


@pytest.fixture(scope="module")
def isolated_stack(tmp_path_factory):
    """The private stack on a bridge with no route out, captured from before the first container starts."""
    if subprocess.run(["which", "tcpdump"], capture_output=True).returncode != 0:
        pytest.fail("tcpdump is missing: run tests/setup_machine.sh")
    stack = make_stack(tmp_path_factory, "noout", PRIVATE_PORTS)
    bridge = f"lai{secrets.token_hex(4)}"
    network = f"{stack.project}_default"
    docker("network", "create", "-o", f"com.docker.network.bridge.name={bridge}",
           "--label", "com.docker.compose.network=default", "--label", f"com.docker.compose.project={stack.project}",
           network)
    rule = ["DOCKER-USER", "-i", bridge, "!", "-o", bridge, "-j", "DROP"]
    subprocess.run(["iptables", "-I", *rule], check=True)
    capture = Path(stack.root) / "bridge.txt"
    with capture.open("w") as out:
        tcpdump = subprocess.Popen(["tcpdump", "-i", bridge, "-nn", "-l", "-tt", "-U"], stdout=out,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        try:
            stack.bridge, stack.capture, stack.tcpdump = bridge, capture, tcpdump
            yield stack
        finally:
            if tcpdump.poll() is None:
                tcpdump.send_signal(signal.SIGINT)
                tcpdump.wait(timeout=10)
            subprocess.run(["iptables", "-D", *rule], check=False)
            stack.destroy()
            docker("network", "rm", network, check=False)


def port(key: str) -> str:
    return PRIVATE_PORTS[key]


def test_private_stack_makes_no_outbound_request(isolated_stack):
    stack = isolated_stack
    result = stack.start("up", "--profile", "cpu", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # A short use: a search, a chat request, the web UI's model list (n8n imported its workflow at up).
    search = requests.get(f"http://127.0.0.1:{port('SEARXNG_PORT')}/search",
                          params={"q": "local ai", "format": "json"}, timeout=10)
    assert search.status_code == 200
    requests.post(f"http://127.0.0.1:{port('OLLAMA_PORT')}/api/chat", timeout=30,
                  json={"model": "tinyllama:latest", "messages": [{"role": "user", "content": "hi"}],
                        "stream": False})
    requests.get(f"http://127.0.0.1:{port('WEBUI_PORT')}/api/config", timeout=10)
    if os.environ.get("LOCALAI_E2E_PLANT_OUTBOUND") == "1":
        planted = (f"import socket\nfor target in {PLANTED!r}:\n    try:\n"
                   "        socket.create_connection((target, 80), timeout=3)\n"
                   "    except OSError as exc:\n        print('planted:', exc)")
        stack.exec("searxng", "python3", "-c", planted)
    time.sleep(15)  # what services do soon after start (update checks, model refreshes) is captured too
    stack.tcpdump.send_signal(signal.SIGINT)
    stack.tcpdump.wait(timeout=10)
    text = stack.capture.read_text()
    assert any(PACKET.search(line) for line in text.splitlines()), "tcpdump captured nothing on the bridge"
    leaving, questions = outbound(text)
    logs = {}
    for name, container in stack.containers().items():
        out = docker("logs", container["Id"], check=False)
        hits = [line for line in (out.stdout + out.stderr).splitlines() if FAILED_CONNECTION.search(line)]
        if hits:
            logs[name] = hits[:5]
    caddy = docker("logs", stack.containers()["caddy"]["Id"], check=False)
    deprecated = [line for line in (caddy.stdout + caddy.stderr).splitlines() if "deprecat" in line.lower()]
    problems = []  # all of them at once: a planted call shows in the capture, the DNS and the logs
    if leaving:
        problems.append("packets left the bridge for the internet:\n" + "\n".join(leaving[:10]))
    if questions:
        problems.append(f"external names were looked up: {sorted(set(questions))}")
    if logs:
        problems.append(f"services logged failed connections: {logs}")
    if deprecated:
        problems.append(f"Caddy warned about deprecated configuration at start: {deprecated}")
    assert not problems, "\n".join(problems)

"""`start.py --target swarm` on a REAL one-node swarm of this engine: deploy, readiness, Docker
secrets absent from `docker service inspect` and from every container's Config.Env, a redeploy
that recreates nothing and keeps the data, a start-first update of one service that recreates
only its tasks, restart, logs, status, an unplaceable GPU placement reported in one line, and
down (volumes kept, secrets removed).

The module makes this engine a swarm manager (`docker swarm init --advertise-addr 127.0.0.1`)
and ALWAYS leaves the swarm afterwards (finally), removing what it made: the other modules run
Compose on the same engine. It is `serial` (tests/run.sh runs it after the parallel pass): a stack
on another worker lost its embedded DNS while a swarm was being set up here.
Smallest honest configuration: PROFILE=cpu with the Ollama double,
SUPABASE_SERVICES=core, the local localai-test/*:dev images (`docker stack deploy --resolve-image
never`), host ports 19901-19907, stack names lase2eswarm*.

Measured on the 2-core test machine, 2026-12-02, while other suites ran on the same engine (load
15-25): the whole module 745 s (first `up` 138-374 s, mostly n8n's and Open WebUI's first start);
`-k "deploys or second_up or after_leaving"` 523 s.
"""
from __future__ import annotations

import json
import subprocess
import tarfile
import time

import pytest

from stack.config.schema import SECRET_KEYS
from tests.conftest import read_env_file
from tests.e2e.conftest import UP_TIMEOUT, append_env, assert_ok, docker, make_stack, ports

pytestmark = pytest.mark.serial

PORTS = ports({"WEBUI_PORT": "19901", "N8N_PORT": "19902", "SUPABASE_PORT": "19903", "OLLAMA_PORT": "19904",
               "SEARXNG_PORT": "19905", "POSTGRES_PORT": "19906", "CADDY_PORT": "19907"})
UPDATED_TAG = "lase2eswarm/supabase-meta:update"


def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()


@pytest.fixture(scope="module")
def swarm():
    if swarm_state() != "inactive":
        pytest.fail("this engine is already part of a swarm; the test makes (and leaves) its own")
    docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        node = docker("node", "ls", "-q").stdout.split()[0]
        docker("node", "update", "--label-add", "localai.data=true", node)
        yield node
    finally:
        docker("swarm", "leave", "--force", check=False)


@pytest.fixture(scope="module")
def stack(swarm, tmp_path_factory):
    s = make_stack(tmp_path_factory, "swarm", {**PORTS, "TARGET": "swarm", "SWARM_PRIVATE_ON_ALL_INTERFACES": "true",
                                              "SUPABASE_SERVICES": "core", "OLLAMA_CONTEXT_LENGTH": "8192"})
    try:
        yield s
    finally:
        if (s.root / ".env").exists():
            s.start("down", "--volumes", "--yes", timeout=600)
        for label in ("com.docker.stack.namespace", "com.docker.compose.project"):
            for cid in docker("ps", "-aq", "--filter", f"label={label}={s.project}").stdout.split():
                docker("rm", "-f", cid, check=False)
        for volume in docker("volume", "ls", "-q", "--filter", f"name={s.project}_").stdout.split():
            docker("volume", "rm", "-f", volume, check=False)
        docker("rmi", UPDATED_TAG, check=False)


def services(project: str) -> dict[str, dict]:
    ids = docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={project}").stdout.split()
    found = json.loads(docker("service", "inspect", *ids).stdout) if ids else []
    return {s["Spec"]["Name"].removeprefix(f"{project}_"): s for s in found}


def running_tasks(project: str) -> dict[str, set[str]]:
    """service -> ids of its tasks that should be running."""
    out = docker("stack", "ps", project, "--no-trunc", "--filter", "desired-state=running",
                 "--format", "{{.Name}} {{.ID}}").stdout
    tasks: dict[str, set[str]] = {}
    for line in out.splitlines():
        name, task = line.split()
        tasks.setdefault(name.rsplit(".", 1)[0].removeprefix(f"{project}_"), set()).add(task)
    return tasks


def psql(project: str, sql: str) -> str:
    cid = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={project}_db").stdout.split()[0]
    return docker("exec", cid, "psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-tAc", sql).stdout.strip()


def test_up_deploys_the_stack_and_waits_until_every_replica_runs(stack):
    started = time.monotonic()
    result = stack.start("up", "--timeout", UP_TIMEOUT, timeout=int(UP_TIMEOUT) + 300)
    assert_ok(result)
    print(f"swarm up: {time.monotonic() - started:.0f}s")
    found = services(stack.project)
    assert {"db", "kong", "n8n", "open-webui", "ollama", "caddy"} <= set(found)
    tasks = running_tasks(stack.project)
    for name in found:
        assert len(tasks.get(name, ())) == 1, name
    assert "TARGET=swarm" in (stack.root / ".env").read_text().splitlines()
    ollama = f"http://127.0.0.1:{PORTS['OLLAMA_PORT']}/"
    assert "Ollama is running" in subprocess.run(["curl", "-s", ollama], capture_output=True, text=True,
                                                 timeout=30).stdout


def test_secrets_are_docker_secrets_absent_from_inspect_and_every_container_env(stack):
    values = {k: v for k, v in read_env_file(stack.root / ".env").items() if k in SECRET_KEYS and len(v) >= 8}
    assert len(values) >= 15
    found = services(stack.project)
    inspect = json.dumps(list(found.values()))
    cids = docker("ps", "-q", "--filter", f"label=com.docker.stack.namespace={stack.project}").stdout.split()
    containers = json.loads(docker("inspect", *cids).stdout)
    assert len(containers) == len(found)
    envs = json.dumps([c["Config"]["Env"] for c in containers])
    assert [k for k, v in values.items() if v in inspect] == []
    assert [k for k, v in values.items() if v in envs] == []
    assert [k for k, v in values.items() if v in json.dumps(containers)] == []
    secrets = docker("secret", "ls", "--filter", f"label=localai.stack={stack.project}", "--format", "{{.Name}}")
    assert len(secrets.stdout.split()) >= 15
    # the program itself still gets them: Postgres took its password from the file ...
    assert psql(stack.project, "select 1") == "1"
    # ... and the env of a wrapped process (PID 1) has it, the container's Config.Env not
    kong = next(c for c in containers if c["Config"]["Labels"]["com.docker.swarm.service.name"].endswith("_kong"))
    environ = docker("exec", kong["Id"], "cat", "/proc/1/environ").stdout
    assert "SUPABASE_ANON_KEY=" in environ


def test_status_and_logs_work_on_swarm(stack):
    result = stack.start("status")
    assert_ok(result)
    assert result.stdout.count("running") >= 10
    result = stack.start("logs", "db", "--tail", "5")
    assert_ok(result)
    assert "_db." in result.stdout


def test_a_second_up_recreates_nothing_and_the_data_survives(stack):
    psql(stack.project, "create table if not exists swarm_probe(v text); insert into swarm_probe values ('kept')")
    before = running_tasks(stack.project)
    assert_ok(stack.start("up", "--timeout", UP_TIMEOUT, "--no-pull", timeout=int(UP_TIMEOUT) + 300))
    assert running_tasks(stack.project) == before
    assert psql(stack.project, "select v from swarm_probe") == "kept"


def test_updating_one_service_start_first_recreates_only_its_tasks(stack):
    docker("tag", "localai-test/supabase-meta:dev", UPDATED_TAG)
    before = running_tasks(stack.project)
    append_env(stack.root, {"SUPABASE_META_IMAGE": UPDATED_TAG})
    assert_ok(stack.start("up", "--timeout", UP_TIMEOUT, "--no-pull", timeout=int(UP_TIMEOUT) + 300))
    after = running_tasks(stack.project)
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == ["meta"]
    meta = services(stack.project)["meta"]["Spec"]
    assert meta["UpdateConfig"]["Order"] == "start-first"
    assert meta["TaskTemplate"]["ContainerSpec"]["Image"] == UPDATED_TAG


def test_restart_of_one_service_recreates_only_its_tasks(stack):
    before = running_tasks(stack.project)
    assert_ok(stack.start("restart", "rest"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and running_tasks(stack.project).get("rest") == before["rest"]:
        time.sleep(1)
    after = running_tasks(stack.project)
    assert sorted(name for name in before if before[name] != after.get(name)) == ["rest"]


def test_backup_on_swarm_dumps_the_database_through_the_task(stack, tmp_path):
    """pg_dumpall runs as supabase_admin inside the db task, through the secrets wrapper (its
    password is in no container environment)."""
    result = stack.start("backup", str(tmp_path / "b.tar"), timeout=600)
    assert_ok(result)
    with tarfile.open(tmp_path / "b.tar") as archive:
        dump = archive.extractfile("postgres.sql").read().decode()  # type: ignore[union-attr]
        names = archive.getnames()
    assert "swarm_probe" in dump and "kept" in dump
    assert "volumes/n8n_data.tar" in names


def test_a_gpu_placement_no_node_satisfies_is_reported_in_one_line(stack):
    result = stack.start("up", "--profile", "gpu-nvidia", "--timeout", UP_TIMEOUT, "--no-pull",
                         timeout=int(UP_TIMEOUT) + 300)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: cannot place ollama: no suitable node"), result.stderr
    assert "Traceback" not in result.stderr


def test_down_keeps_the_volumes_and_removes_services_and_secrets(stack):
    assert_ok(stack.start("down"))
    assert services(stack.project) == {}
    assert docker("secret", "ls", "-q", "--filter", f"label=localai.stack={stack.project}").stdout.split() == []
    volumes = docker("volume", "ls", "-q", "--filter", f"name={stack.project}_").stdout.split()
    assert f"{stack.project}_db_data" in volumes


def test_after_leaving_the_swarm_the_same_folder_runs_on_compose_with_the_same_data(stack):
    """Swarm mode leaves the engine as it was for Compose: the module leaves the swarm here (the
    fixture's leave is then a no-op) and the same folder comes up on Compose, on the volumes the
    swarm stack wrote (same names: `<project>_<volume>`)."""
    docker("swarm", "leave", "--force")
    assert swarm_state() == "inactive"
    result = stack.start("up", "--target", "compose", "--profile", "cpu", "--no-pull", "--timeout", UP_TIMEOUT,
                         timeout=int(UP_TIMEOUT) + 300)
    assert_ok(result)
    assert "TARGET=compose" in (stack.root / ".env").read_text().splitlines()
    cid = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={stack.project}",
                 "--filter", "label=com.docker.compose.service=db").stdout.split()[0]
    out = docker("exec", cid, "psql", "-U", "postgres", "-tAc", "select v from swarm_probe").stdout.strip()
    assert out == "kept"

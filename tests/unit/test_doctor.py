"""doctor with canned machine answers: GPUs, toolkit, CDI, AMD devices, Apple, disk, RAM, ports, Docker."""
from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from stack.config.settings import build
from stack.doctor.advice import detect_profile, suggested_models
from stack.doctor.checks import run_checks
from stack.doctor.findings import Finding, doctor_exit_code, render_report
from stack.doctor.hardware import GIB, MODEL_SHAPES, ModelShape, fit_advice, kv_cache_bytes, shape_for
from stack.doctor.probes import Output, SystemProbe

NVIDIA_SMI = ("nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits")
DOCKER_VERSION = ("docker", "version", "--format", "{{json .}}")
COMPOSE_VERSION = ("docker", "compose", "version", "--short")
DOCKER_INFO = ("docker", "info", "--format", "{{json .}}")
NVIDIA_CTK = ("nvidia-ctk", "--version")
ROCM_SMI = ("rocm-smi", "--showmeminfo", "vram", "--json")
SS = ("ss", "-ltnpH")
OWN_CONTAINERS = ("docker", "ps", "--filter", "label=com.docker.compose.project=localai", "--format", "{{.Ports}}")


def engine(version: str = "27.3.1") -> Output:
    return Output(0, json.dumps({"Client": {"Version": version}, "Server": {"Version": version}}))


def info(**extra: object) -> Output:
    return Output(0, json.dumps({"Runtimes": {"runc": {"path": "runc"}}, "DockerRootDir": "/var/lib/docker",
                                 **extra}))


class FakeProbe(SystemProbe):
    """A machine described by data. Commands not listed answer like a missing binary (exit 127)."""

    def __init__(self, commands: dict | None = None, files: dict | None = None, dirs: dict | None = None,
                 disk_gb: float = 200.0, ram_gb: float = 32, busy: dict | None = None,
                 system: tuple[str, str] = ("Linux", "x86_64")) -> None:
        super().__init__()
        self.commands = {DOCKER_VERSION: engine(), COMPOSE_VERSION: Output(0, "2.29.7\n"), DOCKER_INFO: info()}
        self.commands.update({tuple(k): v if isinstance(v, Output) else Output(*v)
                              for k, v in (commands or {}).items()})
        kb = int(ram_gb * 1024**2)
        self.files = {"/proc/meminfo": f"MemTotal:       {kb} kB\nMemAvailable:   {kb // 2} kB\n",
                      "/var/lib/docker": "", **(files or {})}
        self.dirs = dirs or {}
        self.disk_gb = disk_gb
        self.disk_paths: list[str] = []
        self.busy = busy or {}
        self.sys = system

    def command(self, argv: list[str]) -> Output:
        return self.commands.get(tuple(argv), Output(127, "", f"{argv[0]} is not installed"))

    def read(self, path: str) -> str:
        return self.files.get(path, "")

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.dirs

    def listdir(self, path: str) -> list[str]:
        return self.dirs.get(path, [])

    def free_disk_gb(self, path: str) -> float:
        self.disk_paths.append(path)
        return self.disk_gb

    def system(self) -> tuple[str, str]:
        return self.sys

    def port_in_use(self, host: str, port: int) -> bool | None:
        return self.busy.get(port, False)


def settings(tmp_path: Path, profile: str = "cpu", **values: str):
    return build(tmp_path, values, {"PROFILE": profile})


def topic(findings: list[Finding], name: str) -> list[Finding]:
    return [f for f in findings if f.topic == name]


def nvidia(line: str = "NVIDIA GeForce RTX 4070, 12282") -> dict:
    return {NVIDIA_SMI: (0, line + "\n")}


# -- GPUs and --profile auto ---------------------------------------------------------------------


def test_nvidia_with_the_container_toolkit(tmp_path):
    probe = FakeProbe({**nvidia(), DOCKER_INFO: info(Runtimes={"nvidia": {}, "runc": {}})})
    findings = run_checks(settings(tmp_path, "gpu-nvidia"), probe)
    gpu = topic(findings, "GPU")[0]
    assert gpu.level == "ok" and "RTX 4070 (12 GB)" in gpu.message and "nvidia runtime" in gpu.message
    assert topic(findings, "models")[0].message.startswith("12 GB VRAM: 14B at Q4_K_M")
    assert detect_profile(probe)[0] == "gpu-nvidia"
    assert doctor_exit_code(findings) == 0


def test_nvidia_ready_but_profile_cpu_suggests_the_gpu_profile(tmp_path):
    probe = FakeProbe({**nvidia(), DOCKER_INFO: info(Runtimes={"nvidia": {}})})
    warning = topic(run_checks(settings(tmp_path, "cpu"), probe), "profile")[0]
    assert warning.level == "warning" and "--profile gpu-nvidia" in warning.fix


def test_nvidia_without_the_toolkit_says_how_to_install_it(tmp_path):
    probe = FakeProbe({**nvidia("NVIDIA RTX A4000, 16376")})
    gpu = topic(run_checks(settings(tmp_path, "gpu-nvidia"), probe), "GPU")[0]
    assert gpu.level == "problem" and "no NVIDIA Container Toolkit" in gpu.message
    assert "NVIDIA Container Toolkit" in gpu.fix and "nvidia-ctk runtime configure --runtime=docker" in gpu.fix
    assert doctor_exit_code(run_checks(settings(tmp_path, "gpu-nvidia"), probe)) == 1
    # Not a problem while the profile does not need it, and auto stays on cpu.
    assert topic(run_checks(settings(tmp_path, "cpu"), probe), "GPU")[0].level == "warning"
    profile, reason = detect_profile(probe)
    assert profile == "cpu" and "RTX A4000" in reason


def test_toolkit_installed_but_not_registered_with_docker(tmp_path):
    probe = FakeProbe({**nvidia(), NVIDIA_CTK: (0, "NVIDIA Container Toolkit CLI version 1.17.3\n")})
    gpu = topic(run_checks(settings(tmp_path, "gpu-nvidia"), probe), "GPU")[0]
    assert gpu.level == "warning" and "1.17.3" in gpu.message and "runtime configure" in gpu.fix
    assert detect_profile(probe)[0] == "gpu-nvidia"


def test_nvidia_through_cdi_spec_files(tmp_path):
    spec = {"/etc/cdi": ["nvidia.yaml"]}
    probe = FakeProbe({**nvidia("NVIDIA L4, 23034"), DOCKER_INFO: info(CDISpecDirs=["/etc/cdi", "/var/run/cdi"])},
                      dirs=spec)
    gpu = topic(run_checks(settings(tmp_path, "gpu-nvidia"), probe), "GPU")[0]
    assert gpu.level == "ok" and "CDI (/etc/cdi/nvidia.yaml)" in gpu.message
    assert detect_profile(probe)[0] == "gpu-nvidia"
    # A spec found by its contents under /var/run/cdi counts too.
    probe = FakeProbe({**nvidia(), DOCKER_INFO: info(CDISpecDirs=["/var/run/cdi"])},
                      dirs={"/var/run/cdi": ["gpus.json"]},
                      files={"/var/run/cdi/gpus.json": '{"kind": "nvidia.com/gpu"}'})
    gpu = topic(run_checks(settings(tmp_path, "gpu-nvidia"), probe), "GPU")[0]
    assert "CDI (/var/run/cdi/gpus.json)" in gpu.message


def test_cdi_spec_while_docker_has_cdi_off(tmp_path):
    probe = FakeProbe({**nvidia()}, dirs={"/etc/cdi": ["nvidia.yaml"]})
    gpu = topic(run_checks(settings(tmp_path, "gpu-nvidia"), probe), "GPU")[0]
    assert gpu.level == "problem" and "CDI support is off" in gpu.message
    assert '"features": {"cdi": true}' in gpu.fix
    assert detect_profile(probe)[0] == "cpu"


def test_nvidia_smi_that_cannot_reach_the_driver(tmp_path):
    probe = FakeProbe({NVIDIA_SMI: (9, "NVIDIA-SMI has failed because it couldn't communicate with the "
                                       "NVIDIA driver.\n")})
    findings = run_checks(settings(tmp_path, "gpu-nvidia"), probe)
    assert topic(findings, "GPU")[0].level == "warning" and "driver" in topic(findings, "GPU")[0].fix
    assert topic(findings, "profile")[0].level == "problem"
    assert detect_profile(probe)[0] == "cpu"


def test_several_nvidia_gpus_add_up_unless_ollama_gets_fewer(tmp_path):
    probe = FakeProbe({**nvidia("NVIDIA GeForce RTX 3090, 24576\nNVIDIA GeForce RTX 3090, 24576"),
                       DOCKER_INFO: info(Runtimes={"nvidia": {}})})
    models = topic(run_checks(settings(tmp_path, "gpu-nvidia"), probe), "models")[0]
    assert models.message.startswith("48 GB VRAM: 70B at Q4_K_M")
    one = topic(run_checks(settings(tmp_path, "gpu-nvidia", OLLAMA_GPU_COUNT="1"), probe), "models")[0]
    assert one.message.startswith("24 GB VRAM: 30-34B at Q4_K_M")


def test_amd_device_files(tmp_path):
    devices = {"/dev/kfd": "", "/dev/dri": ""}
    probe = FakeProbe(files=devices)
    assert detect_profile(probe)[0] == "gpu-amd"
    findings = run_checks(settings(tmp_path, "gpu-amd"), probe)
    assert topic(findings, "GPU")[0].level == "ok" and "/dev/kfd" in topic(findings, "GPU")[0].message
    assert "size unknown" in topic(findings, "models")[0].message  # no rocm-smi: the rule of thumb instead
    assert "8 GB -> 7-8B" in topic(findings, "models")[0].message
    assert "--profile gpu-amd" in topic(run_checks(settings(tmp_path, "cpu"), probe), "profile")[0].fix


def test_amd_vram_from_rocm_smi(tmp_path):
    vram = {"card0": {"VRAM Total Memory (B)": str(16 * GIB), "VRAM Total Used Memory (B)": "1048576"}}
    probe = FakeProbe({ROCM_SMI: (0, json.dumps(vram))}, files={"/dev/kfd": "", "/dev/dri": ""})
    findings = run_checks(settings(tmp_path, "gpu-amd"), probe)
    assert "16 GB VRAM" in topic(findings, "GPU")[0].message
    assert topic(findings, "models")[0].message.startswith("16 GB VRAM: 14B at Q4_K_M")


def test_gpu_amd_profile_without_the_devices_is_a_problem(tmp_path):
    problem = topic(run_checks(settings(tmp_path, "gpu-amd"), FakeProbe(files={"/dev/dri": ""})), "profile")[0]
    assert problem.level == "problem" and "/dev/kfd" in problem.message


def test_apple_silicon_suggests_profile_none_and_host_ollama(tmp_path):
    mac = {"commands": {("sysctl", "-n", "hw.memsize"): (0, f"{24 * GIB}\n")}, "system": ("Darwin", "arm64")}
    probe = FakeProbe(**mac)
    assert detect_profile(probe)[0] == "none"
    gpu = topic(run_checks(settings(tmp_path, "cpu"), probe), "GPU")[0]
    assert gpu.level == "warning" and "--profile none" in gpu.fix and "Ollama for macOS" in gpu.fix
    findings = run_checks(settings(tmp_path, "none"), probe)
    assert topic(findings, "GPU")[0].level == "ok"
    assert topic(findings, "RAM")[0].message.startswith("24 GB total")
    assert topic(findings, "models")[0].message.startswith("24 GB unified memory: 30-34B at Q4_K_M")
    ollama = topic(findings, "Ollama")[0]  # nothing listens on 11434 on this fake Mac
    assert ollama.level == "warning" and "ollama serve" in ollama.fix
    serving = topic(run_checks(settings(tmp_path, "none"), FakeProbe(**mac, busy={11434: True})), "Ollama")[0]
    assert serving.level == "ok"


def test_host_ollama_on_loopback_only_is_unreachable_from_linux_containers(tmp_path):
    probe = FakeProbe({SS: (0, 'LISTEN 0 4096 127.0.0.1:11434 0.0.0.0:* users:(("ollama",pid=900,fd=3))\n')},
                      busy={11434: True})
    ollama = topic(run_checks(settings(tmp_path, "none"), probe), "Ollama")[0]
    assert ollama.level == "warning" and "OLLAMA_HOST=0.0.0.0" in ollama.fix


def test_plain_linux_without_gpu_picks_cpu(tmp_path):
    probe = FakeProbe()
    assert detect_profile(probe) == ("cpu", "no GPU that Docker can use")
    findings = run_checks(settings(tmp_path), probe)
    assert topic(findings, "GPU")[0].level == "ok" and "CPU" in topic(findings, "GPU")[0].message
    assert doctor_exit_code(findings) == 0
    problem = topic(run_checks(settings(tmp_path, "gpu-nvidia"), probe), "profile")[0]
    assert problem.level == "problem" and "--profile auto" in problem.fix


# -- disk, RAM, ports, Docker ------------------------------------------------------------------------


@pytest.mark.parametrize(("free", "level"), [(3, "problem"), (12, "warning"), (19.9, "warning"), (200, "ok")])
def test_disk_space_where_docker_keeps_its_data(tmp_path, free, level):
    probe = FakeProbe(disk_gb=free)
    disk = topic(run_checks(settings(tmp_path), probe), "disk")[0]
    assert disk.level == level and (disk.fix == "") == (level == "ok")
    assert probe.disk_paths == ["/var/lib/docker"]


def test_disk_falls_back_to_the_project_when_docker_does_not_say(tmp_path):
    probe = FakeProbe({DOCKER_INFO: (1, "")})
    run_checks(settings(tmp_path), probe)
    assert probe.disk_paths == [str(tmp_path)]


def test_low_ram_is_a_warning(tmp_path):
    ram = topic(run_checks(settings(tmp_path), FakeProbe(ram_gb=6)), "RAM")[0]
    assert ram.level == "warning" and ram.message.startswith("6 GB total, 3 GB available")
    assert topic(run_checks(settings(tmp_path), FakeProbe(ram_gb=16)), "RAM")[0].level == "ok"


def test_busy_port_names_the_process_and_the_setting(tmp_path):
    probe = FakeProbe({SS: (0, 'LISTEN 0 4096 127.0.0.1:3000 0.0.0.0:* users:(("node",pid=4242,fd=21))\n'
                               'LISTEN 0 4096 0.0.0.0:5432 0.0.0.0:* users:(("docker-proxy",pid=77,fd=4))\n')},
                      busy={3000: True, 5432: True})
    findings = run_checks(settings(tmp_path), probe)
    webui, postgres = topic(findings, "ports")
    assert webui.level == "problem" and "port 3000 (WEBUI_PORT)" in webui.message
    assert "node (pid 4242)" in webui.message and "WEBUI_PORT" in webui.fix
    assert "a Docker container" in postgres.message
    assert doctor_exit_code(findings) == 1


def test_busy_port_without_process_details(tmp_path):
    port = topic(run_checks(settings(tmp_path), FakeProbe(busy={8880: True})), "ports")[0]
    assert "CADDY_PORT" in port.message and "sudo ss -ltnp" in port.message


def test_ports_held_by_this_stack_are_not_a_conflict(tmp_path):
    probe = FakeProbe({OWN_CONTAINERS: (0, "127.0.0.1:3000->8080/tcp\n127.0.0.1:8880->80/tcp\n")},
                      busy={3000: True, 8880: True})
    ports = topic(run_checks(settings(tmp_path), probe), "ports")
    assert [p.level for p in ports] == ["ok"] and "2 already served by this stack" in ports[0].message


def test_public_mode_needs_80_and_443_and_asks_ss_when_it_cannot_bind(tmp_path):
    public = build(tmp_path, {"ENVIRONMENT": "public", "WEBUI_HOSTNAME": "chat.example.com",
                              "N8N_HOSTNAME": "n8n.example.com", "SUPABASE_HOSTNAME": "db.example.com",
                              "LETSENCRYPT_EMAIL": "me@example.com"}, {"PROFILE": "cpu"})
    probe = FakeProbe({SS: (0, 'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=1200,fd=6))\n')},
                      busy={80: None, 443: None})
    ports = topic(run_checks(public, probe), "ports")
    assert len(ports) == 1 and "port 80" in ports[0].message and "nginx (pid 1200)" in ports[0].message
    assert "80 and 443" in ports[0].fix


@pytest.mark.parametrize(("answer", "words", "fix"), [
    (Output(127, "", "docker is not installed"), "not installed", "docs.docker.com/engine/install"),
    (Output(1, '{"Client":{"Version":"27.3.1"},"Server":null}',
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"), "not running", "systemctl start"),
    (Output(1, "", "permission denied while trying to connect to the Docker daemon socket"), "socket", "usermod"),
    # newer docker CLIs word it "... to the docker API at unix:///var/run/docker.sock" (users' reports of it)
    (Output(1, "", "permission denied while trying to connect to the Docker API at unix:///var/run/docker.sock"),
     "socket", "usermod"),
    # a permission error of another kind is not the socket's
    (Output(1, "", "open /root/.docker/config.json: permission denied"), "not running", "systemctl start"),
    (Output(124, "", "`docker version` did not finish within 15s"), "did not answer", "restart"),
])
def test_docker_not_answering_is_a_problem_with_a_fix(tmp_path, answer, words, fix):
    findings = run_checks(settings(tmp_path), FakeProbe({DOCKER_VERSION: answer}))
    docker = topic(findings, "Docker")[0]
    assert docker.level == "problem" and words in docker.message and fix in docker.fix
    assert doctor_exit_code(findings) == 1


def test_old_engine_is_a_warning(tmp_path):
    docker = topic(run_checks(settings(tmp_path), FakeProbe({DOCKER_VERSION: engine("19.03.15")})), "Docker")[0]
    assert docker.level == "warning" and "host.docker.internal" in docker.message


@pytest.mark.parametrize(("answer", "level", "words"), [
    (Output(0, "2.12.2\n"), "problem", "too old"),
    (Output(0, "v2.29.7\n"), "ok", "Compose 2.29.7"),
    (Output(1, "", "docker: 'compose' is not a docker command."), "problem", "missing"),
])
def test_compose_version(tmp_path, answer, level, words):
    compose = topic(run_checks(settings(tmp_path), FakeProbe({COMPOSE_VERSION: answer})), "Compose")[0]
    assert compose.level == level and words in compose.message
    assert ("docker-compose-plugin" in compose.fix) == (level == "problem")


# -- model fit (seed tables) and KV cache --------------------------------------------------------------


@pytest.mark.parametrize(("gb", "rows"), [
    (8, ["7-8B at Q4_K_M (4-5 GB, 25-35 tokens/s): simple chat, e.g. llama3.1:8b",
         "for higher quality: 7-8B at Q5_K_M (~5.1 GB)"]),
    (12, ["14B at Q4_K_M (8-10 GB, 15-25 tokens/s): basic tool calling for agents, e.g. qwen2.5:14b",
          "for higher quality: 14B at Q5_K_M (~9.0 GB)"]),
    (16, ["14B at Q4_K_M (8-10 GB, 15-25 tokens/s): basic tool calling for agents, e.g. qwen2.5:14b",
          "for higher quality: 14B at Q6_K (~11.0 GB)"]),
    (24, ["30-34B at Q4_K_M (16-20 GB, 10-20 tokens/s): complicated agent tasks, e.g. qwen2.5:32b",
          "for higher quality: 30-34B at Q5_K_M (~20.6 GB)"]),
    (48, ["70B at Q4_K_M (35-40 GB, 8-12 tokens/s): the most complex agents, e.g. llama3.1:70b",
          "for higher quality: 30-34B at Q8_0 (~32.0 GB)"]),
])
def test_model_fit_matches_the_seed_tables(gb, rows):
    # seeds/003: 8 GB card -> 7-8B, 12 and 16 GB -> 14B, 24 GB -> 30-34B, two 24 GB cards -> 70B (all at Q4);
    # seeds/000: 48 GB runs "70B models at Q4, 30B at Q8".
    assert fit_advice(gb, gpu=True) == rows


def test_model_fit_without_gpu_or_with_little_memory():
    cpu = fit_advice(24, gpu=False)
    assert cpu[0].startswith("7-8B at Q4_K_M is the practical limit on a CPU (1-5 tokens/s for 7B)")
    assert cpu[1].startswith("30-34B at Q4_K_M (16-20 GB) would fit too")
    assert len(fit_advice(8, gpu=False)) == 1
    assert fit_advice(4, gpu=True)[0].startswith("only small models (1-3B, e.g. llama3.2:3b)")


def test_kv_cache_is_computed_from_model_shape():
    llama8b = MODEL_SHAPES["llama3.1:8b"]
    assert llama8b == ModelShape(layers=32, kv_heads=8, head_dim=128)
    f16 = kv_cache_bytes(llama8b, 8192, "f16")
    assert f16 == 2 * 32 * 8 * 128 * 8192 * 2 == GIB
    assert kv_cache_bytes(llama8b, 8192, "q8_0") == f16 * 34 // 64  # ~0.53 of f16
    assert kv_cache_bytes(llama8b, 8192, "q4_0") == f16 * 18 // 64
    assert kv_cache_bytes(llama8b, 16384, "f16") == 2 * f16
    assert kv_cache_bytes(MODEL_SHAPES["llama3.1:70b"], 8192, "f16") == 2.5 * GIB
    assert kv_cache_bytes(MODEL_SHAPES["qwen2.5:7b"], 8192, "f16") == 2 * 28 * 4 * 128 * 8192 * 2
    assert kv_cache_bytes(MODEL_SHAPES["gemma2:9b"], 8192, "f16") == 2 * 42 * 8 * 256 * 8192 * 2


@pytest.mark.parametrize(("name", "shape"), [("llama3.1", "llama3.1:8b"), ("llama3.2:3b", "llama3.2:3b"),
                                             ("llama3.1:8b-instruct-q8_0", "llama3.1:8b"),
                                             ("mistral", "mistral:7b"), ("nomic-embed-text", None)])
def test_model_names_map_to_shapes(name, shape):
    assert shape_for(name) == (MODEL_SHAPES[shape] if shape else None)


def test_kv_cache_findings_follow_the_settings(tmp_path):
    probe = FakeProbe({**nvidia("NVIDIA GeForce RTX 3060 Ti, 8192"), DOCKER_INFO: info(Runtimes={"nvidia": {}})})
    kv = topic(run_checks(settings(tmp_path, "gpu-nvidia", OLLAMA_CONTEXT_LENGTH="8192"), probe), "KV cache")
    assert [f.level for f in kv] == ["ok", "ok"]  # llama3.2:3b (configured) and llama3.1:8b (fits 8 GB)
    assert kv[1].message == ("llama3.1:8b at 8192 tokens (OLLAMA_CONTEXT_LENGTH): 1.00 GiB at f16, "
                             "0.53 GiB at q8_0; using q8_0")
    big = settings(tmp_path, "gpu-nvidia", OLLAMA_CONTEXT_LENGTH="32768", OLLAMA_KV_CACHE_TYPE="f16")
    kv = topic(run_checks(big, probe), "KV cache")
    assert "4.00 GiB at f16" in kv[1].message and kv[1].level == "warning"
    assert "exceed 8 GB" in kv[1].fix and "q8_0" in kv[1].fix
    assert "OLLAMA_KV_CACHE_TYPE=q8_0" in kv[0].fix


# -- report and exit code ------------------------------------------------------------------------------


def test_report_and_exit_code():
    findings = [Finding("ok", "Docker", "Engine 27.3.1"), Finding("warning", "RAM", "6 GB", "add RAM")]
    table = render_report(findings)
    assert table.row_count == 2 and len(table.columns) == 4
    assert doctor_exit_code(findings) == 0
    assert doctor_exit_code([*findings, Finding("problem", "ports", "3000 taken", "stop it")]) == 1


def test_suggested_first_models():
    assert suggested_models(FakeProbe()) == "llama3.2:3b,nomic-embed-text"
    assert suggested_models(FakeProbe(nvidia("RTX 3060, 12288"))) == "llama3.1:8b,nomic-embed-text"


# -- this machine ----------------------------------------------------------------------------------------


def test_the_real_probe_on_this_machine(tmp_path):
    probe = SystemProbe()
    findings = run_checks(settings(tmp_path), probe)
    assert {"Docker", "Compose", "disk", "RAM", "ports", "GPU", "models", "KV cache"} <= {f.topic for f in findings}
    assert all(f.level in ("ok", "warning", "problem") for f in findings)
    if shutil.which("nvidia-smi") or Path("/dev/kfd").exists():
        pytest.skip("this machine has a GPU; the no-GPU advice below does not apply")
    assert "no GPU" in topic(findings, "GPU")[0].message
    assert detect_profile(probe)[0] == "cpu"


def test_the_real_probe_sees_a_held_port_and_a_missing_binary():
    probe = SystemProbe()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert probe.port_in_use("127.0.0.1", port) is True
    assert probe.port_in_use("127.0.0.1", port) is False
    missing = probe.command(["localai-no-such-binary", "--version"])
    assert missing.code == 127 and "not installed" in missing.stderr


def test_profile_gpu_amd_on_an_nvidia_machine_is_a_problem(tmp_path):
    probe = FakeProbe({**nvidia(), DOCKER_INFO: info(Runtimes={"nvidia": {}})})
    problem = topic(run_checks(settings(tmp_path, "gpu-amd"), probe), "profile")[0]
    assert problem.level == "problem" and "gpu-amd" in problem.message

"""doctor with canned machine answers: GPUs, toolkit, AMD devices, Apple, disk, RAM, busy ports."""
from __future__ import annotations

from pathlib import Path

import pytest

from stack.doctor import (
    GIB,
    SystemProbe,
    detect_profile,
    exit_code,
    fit_advice,
    kv_cache_bytes,
    run_checks,
    suggested_models,
)
from stack.settings import build

NVIDIA_SMI = ("nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits")
RUNTIMES = ("docker", "info", "--format", "{{json .Runtimes}}")


class FakeProbe(SystemProbe):
    """A machine described by data; anything not given answers like a bare Linux box."""

    def __init__(self, commands=None, files=None, dirs=None, disk_gb=200.0, ram_kb=32 * 1024**2,
                 busy_ports=(), system=("Linux", "x86_64")):
        self.commands = {tuple(k): v for k, v in (commands or {}).items()}
        self.commands.setdefault(("docker", "version", "--format", "{{.Server.Version}}"), (0, "27.3.1\n"))
        self.commands.setdefault(("docker", "compose", "version", "--short"), (0, "2.29.7\n"))
        self.files = {"/proc/meminfo": f"MemTotal:       {ram_kb} kB\n", **(files or {})}
        self.dirs = dirs or {}
        self.disk_gb = disk_gb
        self.busy = set(busy_ports)
        self.sys = system

    def command(self, argv):
        return self.commands.get(tuple(argv), (127, ""))

    def exists(self, path):
        return path in self.files

    def read(self, path):
        return self.files.get(path, "")

    def listdir(self, path):
        return self.dirs.get(path, [])

    def free_disk_gb(self, path):
        return self.disk_gb

    def system(self):
        return self.sys

    def port_free(self, host, port):
        return port not in self.busy


def settings(profile="cpu", **extra):
    return build(Path("/tmp"), {"PROFILE": profile, **extra}, {})


def by_topic(findings, topic):
    return [f for f in findings if f.topic == topic]


def test_nvidia_with_container_toolkit_is_ok_and_picked():
    probe = FakeProbe({NVIDIA_SMI: (0, "NVIDIA GeForce RTX 4070, 12282\n"), RUNTIMES: (0, '{"nvidia":{},"runc":{}}')})
    findings = run_checks(settings("gpu-nvidia"), probe)
    gpu = by_topic(findings, "GPU")[0]
    assert gpu.level == "ok" and "RTX 4070" in gpu.message and "NVIDIA runtime" in gpu.message
    assert detect_profile(probe)[0] == "gpu-nvidia"
    assert "12 GB VRAM: up to 14B at Q4_K_M" in by_topic(findings, "models")[0].message
    assert exit_code(findings) == 0


def test_nvidia_without_toolkit_is_a_problem_with_the_fix():
    probe = FakeProbe({NVIDIA_SMI: (0, "NVIDIA RTX A4000, 16376\n"), RUNTIMES: (0, '{"runc":{}}')})
    findings = run_checks(settings("gpu-nvidia"), probe)
    gpu = by_topic(findings, "GPU")[0]
    assert gpu.level == "problem" and "nvidia-container-toolkit" in gpu.fix
    assert detect_profile(probe)[0] == "cpu"
    assert exit_code(findings) == 1


def test_nvidia_through_cdi_counts_as_toolkit():
    probe = FakeProbe({NVIDIA_SMI: (0, "NVIDIA L4, 23034\n"), RUNTIMES: (0, '{"runc":{}}')},
                      dirs={"/etc/cdi": ["nvidia.yaml"]})
    gpu = by_topic(run_checks(settings("gpu-nvidia"), probe), "GPU")[0]
    assert gpu.level == "ok" and "CDI" in gpu.message
    assert detect_profile(probe)[0] == "gpu-nvidia"


def test_amd_device_files():
    probe = FakeProbe(files={"/dev/kfd": "", "/dev/dri": ""})
    assert detect_profile(probe)[0] == "gpu-amd"
    assert by_topic(run_checks(settings("gpu-amd"), probe), "GPU")[0].level == "ok"
    warning = by_topic(run_checks(settings("cpu"), probe), "profile")[0]
    assert warning.level == "warning" and "gpu-amd" in warning.fix
    missing = by_topic(run_checks(settings("gpu-amd"), FakeProbe()), "profile")[0]
    assert missing.level == "problem" and "/dev/kfd" in missing.message


def test_apple_suggests_profile_none():
    probe = FakeProbe(system=("Darwin", "arm64"))
    assert detect_profile(probe)[0] == "none"
    gpu = by_topic(run_checks(settings("cpu"), probe), "GPU")[0]
    assert gpu.level == "warning" and "--profile none" in gpu.fix


def test_low_disk_and_ram():
    findings = run_checks(settings(), FakeProbe(disk_gb=3, ram_kb=6 * 1024**2))
    assert by_topic(findings, "disk")[0].level == "problem"
    assert by_topic(findings, "RAM")[0].level == "warning"
    assert by_topic(run_checks(settings(), FakeProbe(disk_gb=12)), "disk")[0].level == "warning"


def test_busy_port_names_the_process_and_the_setting():
    probe = FakeProbe({("ss", "-ltnpH"): (0, 'LISTEN 0 4096 127.0.0.1:3000 0.0.0.0:* '
                                             'users:(("node",pid=4242,fd=21))\n')}, busy_ports={3000})
    ports = by_topic(run_checks(settings(), probe), "ports")[0]
    assert ports.level == "warning" and "node (pid 4242)" in ports.message and "WEBUI_PORT" in ports.message


def test_docker_missing_and_compose_too_old_are_problems():
    probe = FakeProbe({("docker", "version", "--format", "{{.Server.Version}}"): (1, ""),
                       ("docker", "compose", "version", "--short"): (0, "2.12.2\n")})
    findings = run_checks(settings(), probe)
    assert by_topic(findings, "Docker")[0].level == "problem"
    assert "too old" in by_topic(findings, "Compose")[0].message


@pytest.mark.parametrize(("gb", "expected"), [(8, "7-8B"), (12, "14B"), (16, "14B"), (24, "30-34B"),
                                              (48, "70B")])
def test_model_fit_matches_the_seed_table(gb, expected):
    assert fit_advice(gb).label == f"{expected} at Q4_K_M"


def test_kv_cache_is_computed_from_model_shape():
    f16 = kv_cache_bytes((32, 8, 128), 8192, "f16")
    assert f16 == 2 * 32 * 8 * 128 * 8192 * 2 == GIB
    assert kv_cache_bytes((32, 8, 128), 8192, "q8_0") / f16 == pytest.approx(34 / 64)
    assert kv_cache_bytes((32, 8, 128), 16384, "f16") == 2 * f16
    assert kv_cache_bytes((80, 8, 128), 8192, "f16") == 2.5 * GIB


def test_cpu_machine_is_told_to_stay_small_and_gets_small_defaults():
    findings = run_checks(settings(), FakeProbe(ram_kb=64 * 1024**2))
    models = by_topic(findings, "models")[0]
    assert models.level == "warning" and "practical limit" in models.message
    assert suggested_models(FakeProbe()) == "llama3.2:3b,nomic-embed-text"
    assert suggested_models(FakeProbe({NVIDIA_SMI: (0, "RTX 3060, 12288\n")})) == "llama3.1:8b,nomic-embed-text"


def test_real_machine_probe_runs(tmp_path):
    findings = run_checks(build(tmp_path, {}, {}), SystemProbe())
    assert {f.topic for f in findings} >= {"Docker", "Compose", "disk", "GPU", "models", "KV cache"}

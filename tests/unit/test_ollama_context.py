"""OLLAMA_CONTEXT_LENGTH=auto comes from what doctor knows about the machine and is never a cap below
what the GPU holds. Ollama v0.32.15 picks 4096/32768/262144 by total VRAM itself (server/routes.go:
2044-2058) and only steps an automatic context down when a load does not fit (server/sched.go:754-775,
routes.go:176-186), so a fixed 8192 capped a 24 or 48 GB GPU."""
from __future__ import annotations

import pytest
import yaml

from stack.doctor.advice import context_choice
from stack.doctor.checks import run_checks
from stack.doctor.hardware import auto_context, context_that_fits, ollama_default_context
from stack.render.files import render_files
from tests.unit.test_doctor import DOCKER_INFO, FakeProbe, info, nvidia, settings, topic

NVIDIA_RUNTIME = {DOCKER_INFO: info(Runtimes={"nvidia": {}})}


def gpu(mib: int, name: str = "NVIDIA RTX") -> FakeProbe:
    return FakeProbe({**nvidia(f"{name}, {mib}"), **NVIDIA_RUNTIME})


def ollama_env(tmp_path, probe, profile="gpu-nvidia", **values):
    files = render_files(settings(tmp_path, profile, **values), probe=probe)
    compose = yaml.safe_load(files["docker-compose.yml"])
    return compose["services"]["ollama"]["environment"]


@pytest.mark.parametrize("vram_gb,tokens", [(0, 4096), (8, 4096), (22.9, 4096), (23, 32768), (46.9, 32768),
                                            (47, 262144), (80, 262144)])
def test_ollama_vram_tiers(vram_gb, tokens):
    assert ollama_default_context(vram_gb) == tokens


def test_the_default_is_auto_and_a_big_gpu_is_not_capped(tmp_path):
    """On the old code the default was a fixed 8192 in every profile."""
    for mib in (24576, 49152, 81920):
        env = ollama_env(tmp_path, gpu(mib))
        tokens = int(env.get("OLLAMA_CONTEXT_LENGTH", ollama_default_context(mib / 1024)))
        assert tokens >= ollama_default_context(mib / 1024) > 8192, (mib, env)


def test_48_gb_leaves_the_choice_to_ollama(tmp_path):
    """Where we know no more than Ollama (its 256k tier), compose leaves the variable unset, so Ollama keeps
    its automatic step-down when a big model does not fit."""
    env = ollama_env(tmp_path, gpu(49152), OLLAMA_MODELS="llama3.1:70b,nomic-embed-text")
    assert "OLLAMA_CONTEXT_LENGTH" not in env
    assert (env["OLLAMA_FLASH_ATTENTION"], env["OLLAMA_KV_CACHE_TYPE"]) == ("1", "q8_0")


def test_a_gpu_that_holds_more_than_ollamas_tier_gets_it(tmp_path):
    # 12 GB: Ollama alone would take 4096; llama3.1:8b (~4.6 GB) + a q8_0 KV cache of 64k (~4.3 GB) fit.
    env = ollama_env(tmp_path, gpu(12288), OLLAMA_MODELS="llama3.1:8b,nomic-embed-text")
    assert env["OLLAMA_CONTEXT_LENGTH"] == "65536"
    assert context_that_fits(12, "llama3.1:8b", "f16") < 65536  # f16 costs twice as much


def test_unknown_vram_or_model_is_left_to_ollama(tmp_path):
    assert "OLLAMA_CONTEXT_LENGTH" not in ollama_env(tmp_path, FakeProbe())  # nvidia-smi missing
    assert auto_context("gpu-nvidia", 12, "some-unknown-model", "q8_0").setting is None


def test_cpu_keeps_8192_and_env_overrides(tmp_path):
    assert ollama_env(tmp_path, FakeProbe(), profile="cpu")["OLLAMA_CONTEXT_LENGTH"] == "8192"
    assert ollama_env(tmp_path, gpu(49152), OLLAMA_CONTEXT_LENGTH="16384")["OLLAMA_CONTEXT_LENGTH"] == "16384"
    with pytest.raises(Exception, match="auto or a whole number"):
        settings(tmp_path, "cpu", OLLAMA_CONTEXT_LENGTH="big")


def test_doctor_shows_the_context(tmp_path):
    findings = run_checks(settings(tmp_path, "gpu-nvidia"), gpu(24576))
    [shown] = topic(findings, "context")
    assert shown.message.startswith("OLLAMA_CONTEXT_LENGTH=auto: 262144 tokens")
    assert "Ollama alone would take 32768" in shown.message
    kv = topic(findings, "KV cache")
    assert kv and "at 262144 tokens" in kv[0].message
    choice = context_choice(settings(tmp_path, "gpu-nvidia"), gpu(49152))
    assert (choice.setting, choice.tokens) == (None, 262144)

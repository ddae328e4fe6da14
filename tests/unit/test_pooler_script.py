"""templates/supabase/pooler.exs, run by `supavisor eval` before the server starts.

`supavisor eval` evaluates the script in a VM where the :supavisor application is not started, so
Supavisor.Tenants (which goes through Supavisor.Repo, lib/supavisor/tenants.ex:63 @ v2.9.10) fails
until `Application.ensure_all_started(:supavisor)` has run; Supabase's own
docker/volumes/pooler/pooler.exs begins with that call. With Debian's `elixir` installed, the
script runs against a stand-in :supavisor application whose Repo is only there once it started.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "templates" / "supabase" / "pooler.exs"

HARNESS = r'''
defmodule FakeSupavisor do
  use Application
  def start(_type, _args), do: Agent.start_link(fn -> [] end, name: FakeSupavisor.Store)
end

:ok = :application.load({:application, :supavisor,
  [description: ~c"stand-in", vsn: ~c"0.0.0", modules: [], registered: [],
   applications: [:kernel, :stdlib], mod: {FakeSupavisor, []}]})

defmodule Supavisor.Repo do
  def started! do
    Process.whereis(FakeSupavisor.Store) ||
      raise "could not lookup Ecto repo Supavisor.Repo because it was not started or it does not exist"
  end
  def query(_sql), do: (started!(); {:ok, %{rows: [["17.6 (Debian 17.6-1)"]]}})
end

defmodule Supavisor.Tenants do
  def get_tenant_by_external_id(_id), do: (Supavisor.Repo.started!(); nil)
  def create_tenant(params) do
    Supavisor.Repo.started!()
    IO.puts("CREATED " <> inspect(params))
    {:ok, params}
  end
end

Code.eval_file(System.get_env("SCRIPT"))
'''


def test_the_script_starts_supavisor_before_touching_a_tenant():
    code = [line for line in SCRIPT.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert re.fullmatch(r"\{:ok, _\w*\} = Application\.ensure_all_started\(:supavisor\)", code[0].strip()), code[0]
    text = SCRIPT.read_text()
    assert "System.get_env(\"POSTGRES_PASSWORD\")" in text and "Supavisor" in text


@pytest.mark.skipif(shutil.which("elixir") is None, reason="Debian's elixir is not installed")
def test_the_script_creates_the_tenant_with_the_servers_version(tmp_path):
    harness = tmp_path / "harness.exs"
    harness.write_text(HARNESS)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "SCRIPT": str(SCRIPT),
           "POOLER_TENANT_ID": "localai", "POSTGRES_DB": "postgres", "POSTGRES_PORT": "5432",
           "POSTGRES_PASSWORD": "pooler-test-password", "POOLER_DEFAULT_POOL_SIZE": "20",
           "POOLER_MAX_CLIENT_CONN": "100", "POOLER_POOL_MODE": "transaction"}
    result = subprocess.run(["elixir", str(harness)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    created = result.stdout
    assert '"external_id" => "localai"' in created and '"default_pool_size" => 20' in created
    assert '"server_version" => "17.6"' in created, "clients are told the real server's version"

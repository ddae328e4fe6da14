# Supavisor tenant for the Supabase full set, created from the container's environment.
# No secret is written here: everything is read with System.get_env/1 at start.

# `supavisor eval` runs this script in a bare VM: the application, its Repo and Vault included, has
# to be running before Supavisor.Tenants can read or write a tenant.
{:ok, _apps} = Application.ensure_all_started(:supavisor)

int_env = fn name, default -> name |> System.get_env(default) |> String.to_integer() end

# Clients are told the version of the server behind the pooler; the pooler's own metadata
# database (_supabase) lives on that same server.
server_version =
  case Supavisor.Repo.query("SHOW server_version") do
    {:ok, %{rows: [[version | _] | _]}} -> version |> String.split(" ") |> List.first()
    _ -> "17"
  end

external_id = System.get_env("POOLER_TENANT_ID")

params = %{
  "external_id" => external_id,
  "db_host" => "db",
  "db_port" => int_env.("POSTGRES_PORT", "5432"),
  "db_database" => System.get_env("POSTGRES_DB"),
  "require_user" => false,
  "auth_query" => "SELECT * FROM pgbouncer.get_auth($1)",
  "default_max_clients" => int_env.("POOLER_MAX_CLIENT_CONN", "100"),
  "default_pool_size" => int_env.("POOLER_DEFAULT_POOL_SIZE", "20"),
  "default_parameter_status" => %{"server_version" => server_version},
  "users" => [
    %{
      "db_user" => "pgbouncer",
      "db_password" => System.get_env("POSTGRES_PASSWORD"),
      "mode_type" => System.get_env("POOLER_POOL_MODE", "transaction"),
      "pool_size" => int_env.("POOLER_DEFAULT_POOL_SIZE", "20"),
      "is_manager" => true
    }
  ]
}

if Supavisor.Tenants.get_tenant_by_external_id(external_id) == nil do
  {:ok, _tenant} = Supavisor.Tenants.create_tenant(params)
end

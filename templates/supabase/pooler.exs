# Supavisor tenant for the Supabase full set, created from the container's environment.
# No secret is written here: everything is read with System.get_env/1 at start.
params = %{
  "external_id" => System.get_env("POOLER_TENANT_ID"),
  "db_host" => "db",
  "db_port" => String.to_integer(System.get_env("POSTGRES_PORT", "5432")),
  "db_database" => System.get_env("POSTGRES_DB"),
  "require_user" => false,
  "auth_query" => "SELECT * FROM pgbouncer.get_auth($1)",
  "default_max_clients" => String.to_integer(System.get_env("POOLER_MAX_CLIENT_CONN", "100")),
  "default_pool_size" => String.to_integer(System.get_env("POOLER_DEFAULT_POOL_SIZE", "20")),
  "default_parameter_status" => %{"server_version" => "15"},
  "users" => [
    %{
      "db_user" => "pgbouncer",
      "db_password" => System.get_env("POSTGRES_PASSWORD"),
      "mode_type" => System.get_env("POOLER_POOL_MODE", "transaction"),
      "pool_size" => String.to_integer(System.get_env("POOLER_DEFAULT_POOL_SIZE", "20")),
      "is_manager" => true
    }
  ]
}

if Supavisor.Tenants.get_tenant_by_external_id(params["external_id"]) == nil do
  {:ok, _} = Supavisor.Tenants.create_tenant(params)
end

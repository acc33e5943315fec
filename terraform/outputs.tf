output "project_ref" {
  description = "The Supabase project reference (the id in the dashboard URL)."
  value       = local.project_ref
}

output "database_url_pooled" {
  description = "DATABASE_URL for the app: the transaction pooler on port 6543 (set EMAILGATOR__DATABASE__STATEMENT_CACHE=false)."
  value       = "postgresql://postgres.${local.project_ref}:${local.password}@${local.pooler_host}:6543/postgres?sslmode=require"
  sensitive   = true
}

output "database_url_direct" {
  description = "The direct connection on port 5432, without a pooler (IPv6 unless the project has the IPv4 add-on)."
  value       = "postgresql://postgres:${local.password}@db.${local.project_ref}.supabase.co:5432/postgres?sslmode=require"
  sensitive   = true
}

output "database_url_session" {
  description = "DATABASE_MIGRATION_URL, psql and pg_dump: the session pooler on port 5432, over IPv4."
  value       = "postgresql://postgres.${local.project_ref}:${local.password}@${local.pooler_host}:5432/postgres?sslmode=require"
  sensitive   = true
}

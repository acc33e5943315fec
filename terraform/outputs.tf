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
  description = "DATABASE_URL for migrations, pg_dump and psql: the direct connection on port 5432 (IPv6, as on Fly)."
  value       = "postgresql://postgres:${local.password}@db.${local.project_ref}.supabase.co:5432/postgres?sslmode=require"
  sensitive   = true
}

output "database_url_session" {
  description = "The session pooler on port 5432 over IPv4, for tools on networks without IPv6."
  value       = "postgresql://postgres.${local.project_ref}:${local.password}@${local.pooler_host}:5432/postgres?sslmode=require"
  sensitive   = true
}

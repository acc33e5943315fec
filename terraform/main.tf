# EmailGator's PostgreSQL: one Supabase project. The app connects through the transaction pooler
# (port 6543); `emailgator migrate` holds one session through the session pooler (port 5432).

resource "random_password" "database" {
  length  = var.database_password_length
  special = false
}

resource "supabase_project" "emailgator" {
  organization_id   = var.supabase_organization_id
  name              = var.project_name
  database_password = random_password.database.result
  region            = var.region
  instance_size     = var.instance_size

  lifecycle {
    # Losing the project loses every user's mail and tokens: `terraform destroy` must fail until
    # this is turned off on purpose (see README.md, "Destroying").
    prevent_destroy = true
    # The password only counts at creation; a later rotation happens in the Supabase dashboard.
    ignore_changes = [database_password]
  }
}

data "supabase_pooler" "emailgator" {
  project_ref = supabase_project.emailgator.id
}

locals {
  project_ref = supabase_project.emailgator.id
  password    = random_password.database.result
  # The pooler's host differs by region and cluster; take it from the connection string Supabase reports.
  pooler_host = regex("@([^:/]+)", data.supabase_pooler.emailgator.url["transaction"])[0]
}

terraform {
  required_version = ">= 1.10"

  required_providers {
    supabase = {
      source  = "supabase/supabase"
      version = "1.6.1"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.6.3"
    }
  }

  # State lives in an S3-compatible bucket the operator owns (AWS S3, Cloudflare R2, Tigris on Fly):
  # terraform init -backend-config=backend.hcl (see backend.hcl.example). The state holds the
  # database password, so the bucket must be private and encrypted.
  backend "s3" {}
}

# Reads SUPABASE_ACCESS_TOKEN from the environment; no token is ever written to a file here.
provider "supabase" {}

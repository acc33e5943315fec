variable "supabase_organization_id" {
  description = "Slug of the Supabase organization that owns the project (in the dashboard URL: /org/<slug>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,}$", var.supabase_organization_id))
    error_message = "supabase_organization_id must be the organization slug: lower-case letters, digits and dashes."
  }
}

variable "project_name" {
  description = "Name of the Supabase project that holds EmailGator's database."
  type        = string
  default     = "emailgator"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$", var.project_name))
    error_message = "project_name must be 1 to 64 letters, digits, spaces, dashes or underscores."
  }
}

variable "region" {
  description = "Supabase region of the database; pick the one closest to the Fly region (iad -> us-east-1)."
  type        = string
  default     = "us-east-1"

  validation {
    condition = contains([
      "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
      "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1",
      "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2",
      "sa-east-1",
    ], var.region)
    error_message = "region must be a Supabase region such as us-east-1 or eu-central-1."
  }
}

variable "instance_size" {
  description = "Compute size of the database (micro suits a few dozen mailboxes; larger sizes cost more)."
  type        = string
  default     = "micro"

  validation {
    condition     = contains(["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"], var.instance_size)
    error_message = "instance_size must be one of nano, micro, small, medium, large, xlarge, 2xlarge ... 16xlarge."
  }
}

variable "database_password_length" {
  description = "Length of the generated database password (letters and digits only, so it needs no URL escaping)."
  type        = number
  default     = 40

  validation {
    condition     = var.database_password_length >= 24 && var.database_password_length <= 99
    error_message = "database_password_length must be between 24 and 99."
  }
}

"""labctl: provision, meter and tear down hands-on GPU FinOps labs with Terraform."""

__version__ = "0.1.0"

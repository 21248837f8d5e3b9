"""From a validated spec to files, pure but for writing them: a team's Terraform root and its
variables, its Kubernetes manifests, and the checks that they fit each other.

- ``terraform``     the team root (static root module, linked modules) and terraform.tfvars.json:
                    ``tfvars`` builds it, ``write_root`` writes it, ``read_tfvars`` reads it back
- ``manifests``     the Kubernetes manifests from the k8s/ templates
- ``pools``         node pool labels and taints, one source for both sides
- ``docs``          a parsed manifest with the line of every path
- ``k8s_validate``  strict schema validation of the manifests; ``consistency`` checks them against
                    the Terraform side
"""

"""CDK constructs built from the service manifests: nothing a manifest declares is wired by hand here."""

"""Development tooling: installing, checking locks; never shipped in the package."""

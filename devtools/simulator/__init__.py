"""OpenAI-compatible provider simulator: scripted answers, realistic usage and latency,
injectable faults. Start it with `server.SimulatorServer` or `server.run_simulator`."""

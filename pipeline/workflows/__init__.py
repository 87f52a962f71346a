"""What an examiner or a home-monitoring user runs: assessments and monitoring."""

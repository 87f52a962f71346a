"""Everything that produces IMU samples on the session clock."""

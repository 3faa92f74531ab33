"""Stage 4: render every chart file in memory."""

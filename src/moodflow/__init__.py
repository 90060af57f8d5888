"""moodflow: mood and genre tagging, a collaborative music space, cold-start
projection of new releases and mood-steerable Flow mixes."""

__version__ = "0.1.0"

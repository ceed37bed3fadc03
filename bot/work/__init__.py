"""Cadre work: visit cadence, visits and their confirmation, plan milestones, hardship
requests (issue #4). Plain services over repositories, testable without Telegram."""

from tests.work.milestones.flow import frozen_clock  # noqa: F401

"""The polling controller that ties backends and analysis together and owns every action."""

from tui.controller.controller import ActionResult, ConsoleState, RolloutController

__all__ = ["ActionResult", "ConsoleState", "RolloutController"]

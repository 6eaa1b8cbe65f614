"""The polling controller that ties backends and analysis together and owns every action."""

from tui.controller.controller import RolloutController
from tui.controller.state import ActionResult, ConsoleState

__all__ = ["ActionResult", "ConsoleState", "RolloutController"]

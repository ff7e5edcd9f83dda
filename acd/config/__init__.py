"""The one config file: loader, validated model and the error it raises."""
from acd.config.errors import ConfigError
from acd.config.loader import load_config, load_config_for_command, load_config_text
from acd.config.model import AgentConfig, Config, QueueConfig, RoutingPolicy, WideningStep

__all__ = [
    "AgentConfig", "Config", "ConfigError", "QueueConfig", "RoutingPolicy", "WideningStep",
    "load_config", "load_config_for_command", "load_config_text",
]

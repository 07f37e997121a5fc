"""Responsible-AI audit across the lifecycle: data, model, uncertainty, deployment, documents."""

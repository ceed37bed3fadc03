"""Placeholder: /start <code> binding is being written in this session."""

from aiogram import Router

router = Router(name="binding")

"""The report room: verdict.json, evidence.json, junit.xml and the postmortem (Markdown and HTML)."""

from .evidence import render_evidence, scrub
from .junit import render_junit
from .postmortem import postmortem_context, render_html, render_markdown, reproduce_command
from .writer import Report, atomic_write, render_report, write_message, write_report

__all__ = [
    "Report",
    "atomic_write",
    "postmortem_context",
    "render_evidence",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_report",
    "reproduce_command",
    "scrub",
    "write_message",
    "write_report",
]

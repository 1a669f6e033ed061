"""Prompt templates as data, with immutable versions: SSM Parameter Store.

Why Parameter Store: every change of a parameter's value is a new, numbered version that cannot be
edited afterwards, and ``GetParameter`` reads any version with the ``name:version`` selector
(https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-versions.html). So
the template files in ``prompts/`` are deployed as parameters (a changed file = a new version), the
active version per workflow is a number in the stage config, and rollback is setting that number to
an older version: no copy, no new deploy of the old text. Standard parameters cost nothing and hold
4 KB (the construct refuses a larger template at synth). Parameter Store keeps the newest 100
versions of a parameter; older ones are deleted, so a rollback target must be among those.

A template is JSON: {"system": "...", "user": "... {question} ... {documents} ..."}. Retrieved
text is data, never instructions: each passage is put inside a <document> element with its text
XML-escaped, so a passage cannot close its element or open a new section of the prompt, and the
system text tells the model that nothing inside <documents> is an instruction.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Sequence
from xml.sax.saxutils import escape, quoteattr


_PLACEHOLDER = re.compile(r"\{(question|documents)\}")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    system: str
    user: str

    def render(self, question: str, passages: Sequence[dict]) -> tuple[str, str]:
        """Returns (system, user). ``passages``: dicts with text, key, version, page, heading."""
        docs = "\n".join(
            f"<document index={quoteattr(str(i))} source={quoteattr(str(p.get('key', '')))} page={quoteattr(str(p.get('page') or ''))}>"
            f"{escape(str(p.get('text', '')))}</document>"
            for i, p in enumerate(passages, start=1)
        )
        values = {"documents": f"<documents>\n{docs}\n</documents>", "question": escape(question)}
        # One pass over the template: placeholders are the template's only. A passage or a question
        # that contains "{question}" or "{documents}" arrives as it is, never expanded.
        return self.system, _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.user)


def parse_template(name: str, version: int, text: str) -> PromptTemplate:
    try:
        data = json.loads(text)
        system, user = data["system"], data["user"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"prompt {name} version {version} is not a JSON object with 'system' and 'user': {e}") from e
    for field in ("{question}", "{documents}"):
        if field not in user:
            raise ValueError(f"prompt {name} version {version}: 'user' must contain {field}")
    return PromptTemplate(name, version, str(system), str(user))


class PromptStore:
    """Reads ``<name>:<version>`` from Parameter Store. Versions never change, so each one is read
    once per Lambda environment."""

    def __init__(self, ssm: Any):
        self.ssm = ssm
        self._cache: dict[tuple[str, int], PromptTemplate] = {}
        self._lock = threading.Lock()

    def get(self, name: str, version: int) -> PromptTemplate:
        if int(version) < 1:
            raise ValueError(f"prompt version must be 1 or more, received {version}")
        key = (name, int(version))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = self.ssm.get_parameter(Name=f"{name}:{int(version)}")["Parameter"]["Value"]
        template = parse_template(name, int(version), value)
        with self._lock:
            self._cache[key] = template
        return template

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check Helm chart values against the chart's JSON schema, the way Helm does."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native


def merge_chart_values(defaults, overrides):
    """Helm's coalescing of values: maps merge, anything else replaces, null removes the key."""
    merged = copy.deepcopy(dict(defaults or {}))
    for key, value in (overrides or {}).items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_chart_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _mapping(source, what):
    """``source`` itself if it is a mapping, else the JSON file it names (read directly: schemas are large)."""
    if source is None or isinstance(source, dict):
        return source
    try:
        with open(source) as handle:
            return json.load(handle)
    except (OSError, ValueError) as err:
        raise AnsibleFilterError("cannot read the chart %s from %s: %s" % (what, source, to_native(err)))


def chart_values_problems(values, schema, defaults=None):
    """Every schema violation of ``defaults`` deep-merged with ``values``, as readable lines.

    ``schema`` and ``defaults`` are mappings or paths of JSON files. An empty
    list means the values are valid. Each line names the path of the offending
    value and what is wrong with it.
    """
    # imported here, not with the module: Ansible loads every filter file of the collection
    # in each task that uses one of them, and jsonschema's import alone takes 0.9 s
    try:
        from jsonschema import Draft7Validator
    except ImportError:
        raise AnsibleFilterError("chart_values_problems needs the Python library jsonschema "
                                 "on the controller: pip install -r requirements.txt")
    if not isinstance(values, dict):
        return ["values must be a mapping, got %s" % type(values).__name__]
    schema = _mapping(schema, "values schema")
    merged = merge_chart_values(_mapping(defaults, "default values"), values)
    problems = []
    for error in sorted(Draft7Validator(schema).iter_errors(merged), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append("%s: %s" % (path, error.message))
    return problems


class FilterModule(object):
    def filters(self):
        return {
            "chart_values_problems": chart_values_problems,
            "merge_chart_values": merge_chart_values,
        }

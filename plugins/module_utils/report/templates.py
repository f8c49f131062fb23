# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The run report's Jinja2 templates: the SVG timeline, the HTML page, the Markdown; and the plan page's.

They are Python strings because AnsiballZ ships only the .py files of
module_utils. render.py lays everything out (coordinates, labels, tooltips);
these hold the markup. SVG and HTML are rendered with autoescaping: every
value is escaped unless marked ``safe`` (the inlined SVG, itself escaped).
Whitespace between elements is insignificant in SVG and HTML tables; inside
a ``<text>``, ``<title>`` or ``<td>`` it is not, so those stay on one line.
"""

SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" class="fenix-timeline" width="{{ width }}" height="{{ height }}" \
viewBox="0 0 {{ width }} {{ height }}" role="img" aria-labelledby="timeline-title" data-session="{{ session_id }}">
<title id="timeline-title">Maintenance session {{ session_id }}: {{ state }}</title>
<style>text{font-family:sans-serif;font-size:12px;fill:#222}.axis line{stroke:#ccc}\
.axis text{font-size:10px;fill:#666}.label{font-weight:bold}.phase{stroke:#fff;stroke-width:0.5}\
.move line{stroke:#111;stroke-width:1.5}.move .span{stroke:#111;stroke-width:1.2;opacity:0.7}\
.move.failed line{stroke:#d62728}.notice{stroke:#555;stroke-width:1}\
.row-band{fill:#f6f6f6}.heading{font-size:14px;font-weight:bold}</style>
<rect x="0" y="0" width="{{ width }}" height="{{ height }}" fill="#fff"/>
<text class="heading" x="8" y="20">Session {{ heading_id }} \u2014 {{ state }}, {{ duration }}</text>
<g class="axis">
{% for tick in axis.ticks %}
<line x1="{{ tick.x }}" y1="{{ axis.top }}" x2="{{ tick.x }}" y2="{{ axis.bottom }}"/>
<text x="{{ tick.x }}" y="{{ axis.label_y }}" text-anchor="middle">+{{ tick.label }}</text>
{% endfor %}
<text x="8" y="40">start {{ axis.start }} UTC</text>
</g>
{% macro row(view) %}
<g class="row {{ view.kind }}" id="{{ view.kind }}-{{ view.index }}"\
{% for name, value in view.data %} data-{{ name }}="{{ value }}"{% endfor %}>
<rect class="row-band" x="0" y="{{ view.y }}" width="{{ band.width }}" height="{{ band.height }}" \
opacity="{{ 1 if view.index is even else 0 }}"/>
<text class="label" x="8" y="{{ view.y + 17 }}">{{ view.label }}<title>{{ view.tip }}</title></text>
{{ caller() }}</g>
{% endmacro %}
{% call row(session_row) %}
{% for change in session_row.changes %}
<g class="state-change" data-state="{{ change.state }}">\
<line x1="{{ change.x }}" y1="{{ change.top }}" x2="{{ change.x }}" y2="{{ change.bottom }}" \
stroke="{{ change.colour }}" stroke-width="2"/>\
<text x="{{ change.x + 3 }}" y="{{ change.label_y }}" style="font-size:9px;fill:{{ change.colour }}">{{ change.label }}</text>\
<title>{{ change.tip }}</title></g>
{% endfor %}
{% endcall %}
{% for host in hosts %}
{% call row(host) %}
{% for phase in host.phases %}
<rect class="phase phase-{{ phase.phase }}" data-phase="{{ phase.phase }}" x="{{ phase.x }}" y="{{ host.bar_y }}" \
width="{{ phase.width }}" height="{{ bar_height }}" fill="{{ phase.colour }}"><title>{{ phase.tip }}</title></rect>
{% endfor %}
{% for move in host.moves %}
<g class="move{{ ' failed' if move.failed else '' }}" data-instance="{{ move.instance_id }}" data-action="{{ move.action }}">\
<line class="span" x1="{{ move.x }}" y1="{{ move.span_y }}" x2="{{ move.x_end }}" y2="{{ move.span_y }}"/>\
<line x1="{{ move.x }}" y1="{{ host.y + 1 }}" x2="{{ move.x }}" y2="{{ host.y + row_height - 3 }}"/>\
<title>{{ move.tip }}</title></g>
{% endfor %}
{% if host.failure %}
<g class="failure"><text x="{{ host.failure.x - 5 }}" y="{{ host.y + 17 }}" style="fill:#d62728;font-weight:bold">\
\u2716</text><title>{{ host.failure.tip }}</title></g>
{% endif %}
{% endcall %}
{% endfor %}
{% for project in projects %}
{% call row(project) %}
{% for notice in project.done %}
<line class="notice done" x1="{{ notice.x }}" y1="{{ project.middle + 4 }}" x2="{{ notice.x }}" \
y2="{{ project.middle + 10 }}"><title>INSTANCE_ACTION_DONE for {{ notice.instance }}</title></line>
{% endfor %}
{% for item in project.notifications %}
<path class="notification{{ ' reminder' if item.reminder else '' }}" data-state="{{ item.state }}" \
d="M {{ item.x }} {{ project.middle + 2 }} l -6 -9 h 12 z" fill="{{ '#fff' if item.reminder else '#1f3a93' }}" \
stroke="#1f3a93"><title>{{ item.tip }}</title></path>
{% endfor %}
{% for reply in project.replies %}
<circle class="reply" data-reply="{{ reply.reply }}" data-decided-by="{{ reply.decided_by }}" cx="{{ reply.x }}" \
cy="{{ project.middle }}" r="5" fill="{{ reply.fill }}" stroke="{{ reply.stroke }}" stroke-width="1.5">\
<title>{{ reply.tip }}</title></circle>
{% endfor %}
{% endcall %}
{% endfor %}
<g class="legend">
{% for phase in legend.phases %}
<rect x="{{ phase.x }}" y="{{ legend.y - 9 }}" width="14" height="10" fill="{{ phase.colour }}"/>\
<text x="{{ phase.x + 18 }}" y="{{ legend.y }}">{{ phase.name }}</text>
{% endfor %}
{% for mark in legend.marks %}
{% set x = mark.x + 6 %}
{% if mark.kind == "move" %}
<line x1="{{ x }}" y1="{{ legend.y - 11 }}" x2="{{ x }}" y2="{{ legend.y + 2 }}" stroke="#111" stroke-width="1.5"/>\
{% elif mark.kind == "notification" %}
<path d="M {{ x }} {{ legend.y + 1 }} l -6 -9 h 12 z" fill="#1f3a93"/>\
{% elif mark.kind == "reminder" %}
<path d="M {{ x }} {{ legend.y + 1 }} l -6 -9 h 12 z" fill="#fff" stroke="#1f3a93"/>\
{% elif mark.kind == "reply" %}
<circle cx="{{ x }}" cy="{{ legend.y - 4 }}" r="5" fill="#2ca02c" stroke="#2ca02c"/>\
{% else %}
<circle cx="{{ x }}" cy="{{ legend.y - 4 }}" r="5" fill="#fff" stroke="#2ca02c" stroke-width="1.5"/>\
{% endif %}
<text x="{{ mark.x + 16 }}" y="{{ legend.y }}">{{ mark.label }}</text>
{% endfor %}
</g>
</svg>
"""

HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Maintenance session {{ session_id }}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}th{background:#f0f0f0}\
.state-MAINTENANCE_FAILED{color:#d62728;font-weight:bold}.state-MAINTENANCE_DONE{color:#2a7a2a}\
.timeline{overflow-x:auto}</style></head>
<body data-session="{{ session_id }}" data-state="{{ state }}">
<h1>Maintenance session {{ session_id }}: <span class="state-{{ state }}">{{ state }}</span></h1>
{% macro table(css_class, rows, headings=(), data=None) %}
<table class="{{ css_class }}">
{% if headings %}
<thead><tr>{% for heading in headings %}<th>{{ heading }}</th>{% endfor %}</tr></thead>
{% endif %}
<tbody>
{% for row in rows %}
<tr{% if data %} data-{{ data }}="{{ row.key }}"{% endif %}>{% for cell in row.cells %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody></table>
{% endmacro %}
{{ table("overview", overview) }}
<div class="timeline">
{{ svg | safe }}</div>
<h2>Hosts</h2>
{{ table("hosts", hosts, host_headings, "host") }}
{% if batches %}
<h2>Batches</h2>
{{ table("batches", batches, batch_headings, "batch") }}
{% endif %}
<h2>Moves</h2>
{{ table("moves", moves, move_headings, "instance") }}
<h2>Projects</h2>
{{ table("projects", projects, project_headings, "project") }}
</body></html>
"""

MARKDOWN = """\
{% macro table(headings, rows) %}
| {{ headings | join(" | ") }} |
|{% for heading in headings %} --- |{% endfor %}

{% for row in rows %}
|{% for cell in row.cells %} {{ cell | md }} |{% endfor %}

{% endfor %}
{% endmacro %}
# Maintenance session {{ session_id | md }}

| | |
| --- | --- |
{% for row in overview %}
| {{ row.cells[0] }} | {{ row.cells[1] | md }} |
{% endfor %}
{% if svg_name %}

![timeline of the session]({{ svg_name | replace(" ", "%20") }})
{% endif %}

## Hosts

{{ table(host_headings, hosts) }}
{% if batches %}
## Batches

{{ table(batch_headings, batches) }}
{% endif %}
## Moves

{{ table(move_headings, moves) }}
## Projects

{{ table(project_headings, projects) -}}
"""

PLAN_HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}th{background:#f0f0f0}\
.bound,.estimate{margin:4px 0}</style></head>
<body>
<h1>{{ title }}</h1>
<table class="overview"><tbody>
{% for name, value in overview %}
<tr><th>{{ name }}</th><td>{{ value }}</td></tr>
{% endfor %}
</tbody></table>
{% for batch in batches %}
<section class="batch" data-batch="{{ batch.number }}">
<h2>Batch {{ batch.number }}: {{ batch.hosts | join(", ") }}</h2>
<p class="bound">Not wider: {{ batch.bound or "no bound given" }}</p>
<p class="estimate">Estimate {{ batch.estimated_seconds }} s: {{ batch.estimate }}</p>
{% if batch.moves %}
<table class="moves"><thead><tr>{% for heading in move_headings %}<th>{{ heading }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in batch.moves %}
<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody></table>
{% endif %}
{% for text in batch.skipped %}
<p class="stays">Stays: {{ text }}</p>
{% endfor %}
</section>
{% endfor %}
</body></html>
"""

PLAN_MARKDOWN = """\
# {{ title | md }}

| | |
| --- | --- |
{% for name, value in overview %}
| {{ name | md }} | {{ value | md }} |
{% endfor %}
{% for batch in batches %}

## Batch {{ batch.number }}: {{ batch.hosts | join(", ") | md }}

Not wider: {{ (batch.bound or "no bound given") | md }}

Estimate {{ batch.estimated_seconds }} s: {{ batch.estimate | md }}
{% if batch.moves %}

| {{ move_headings | join(" | ") }} |
|{% for heading in move_headings %} --- |{% endfor %}

{% for row in batch.moves %}
|{% for cell in row %} {{ cell | md }} |{% endfor %}

{% endfor %}
{% endif %}
{% for text in batch.skipped %}

Stays: {{ text | md }}
{% endfor %}
{% endfor %}
"""

"""The Textual dashboard. Widgets render a Snapshot; they never collect anything."""

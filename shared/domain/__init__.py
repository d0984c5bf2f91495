"""The pure domain: definitions, goal rules, criteria, conditions, events, ids and limits. No I/O."""

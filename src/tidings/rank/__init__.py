"""The ranking stage: features and scores (pure), page assembly, explanations, learning."""

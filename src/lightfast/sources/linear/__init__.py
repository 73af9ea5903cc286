"""Linear: webhook verification, deliveries and API records as documents (pure), the GraphQL client."""

"""What the validation steps send and read through Redox's FHIR R4 API (the Carequality slugs
`ceq-orgs`, `ceq-xcpd:{oid}`, `ceq-xca:{oid}`). Imports nothing of the Data Model side."""

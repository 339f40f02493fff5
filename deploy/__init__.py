"""Deployment to Amazon MWAA: CloudFormation template, MWAA requirements and the deploy command."""

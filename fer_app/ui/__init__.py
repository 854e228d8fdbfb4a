"""The Streamlit layer: one module per tab, plus charts and shared resources. Imported by streamlit_app.py only."""

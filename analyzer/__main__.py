from analyzer.cli import main

if __name__ == "__main__":  # spawned batch workers import this module too; they must not run the CLI
    main()
